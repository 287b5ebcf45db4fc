// Sample app: a gRPC service `echo.Echo` (@grpc/grpc-js, messages are raw UTF-8 bytes, no .proto needed) with a
// unary `Say` and a server-streaming `Stream`. Both send back the caller's `x-caller` metadata as `x-echo-caller`
// (response headers) and `x-echo-version` (trailers); `Say("fail")` answers FAILED_PRECONDITION. Run by the sandbox as
// a pod command. Environment: PORT (default 9090), VERSION (default v1).
import grpc from '@grpc/grpc-js';

const port = Number(process.env.PORT || 9090);
const version = process.env.VERSION || 'v1';
const raw = { serialize: (b) => b, deserialize: (b) => b };
export const ECHO_SERVICE = {
  Say: { path: '/echo.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
  Stream: { path: '/echo.Echo/Stream', requestStream: false, responseStream: true, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize },
};

function headersFor(call) {
  const md = new grpc.Metadata();
  md.set('x-echo-caller', String(call.metadata.get('x-caller')[0] ?? ''));
  return md;
}

function trailers() {
  const md = new grpc.Metadata();
  md.set('x-echo-version', version);
  return md;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Say(call, cb) {
      call.sendMetadata(headersFor(call));
      const text = call.request.toString();
      if (text === 'fail') return cb({ code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail', metadata: trailers() });
      cb(null, Buffer.from(`${version}:${text}`), trailers());
    },
    Stream(call) {
      call.sendMetadata(headersFor(call));
      const text = call.request.toString();
      for (let i = 0; i < 5; i++) call.write(Buffer.from(`${version}:${text}:${i}`));
      call.end(trailers());
    },
  });
  server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
    if (err) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`grpc echo ${version} listening on :${port}\n`);
  });
  for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.tryShutdown(() => process.exit(0)));
}
