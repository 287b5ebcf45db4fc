# Build description of the ambit_net N-API addon (C only; built by `npm install` via node-gyp).
{
  "targets": [
    {
      "target_name": "ambit_net",
      "sources": ["ambit_net.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    }
  ]
}
