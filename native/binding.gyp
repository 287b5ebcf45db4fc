# Build description of the ambit_net N-API addon and the ambit-cni plugin executable (C only; built by `npm install`
# via node-gyp). ambit-cni is linked statically: it runs on a node's host, outside any image, with no libraries.
{
  "targets": [
    {
      "target_name": "ambit_net",
      "sources": ["ambit_net.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_DISABLE_CPP_EXCEPTIONS"]
    },
    {
      "target_name": "ambit-cni",
      "type": "executable",
      "sources": ["ambit_cni.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "ldflags": ["-static"]
    }
  ]
}
