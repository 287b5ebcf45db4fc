#!/usr/bin/env bash
# Regenerates the TypeScript for every .proto under proto/ into proto/gen/ (protobuf-es v2), with Debian's
# protoc (apt-get install -y protobuf-compiler) and the locally installed protoc-gen-es plugin. Works offline.
set -euo pipefail
cd "$(dirname "$0")/../proto"
command -v protoc >/dev/null || { echo "gen-proto: protoc missing (apt-get install -y protobuf-compiler)" >&2; exit 1; }
rm -rf gen.new && mkdir gen.new
mapfile -t files < <(find . -path ./gen -prune -o -path ./gen.new -prune -o -name '*.proto' -print | sed 's#^\./##' | sort)
protoc -I . -I /usr/include \
  --plugin=protoc-gen-es=../node_modules/.bin/protoc-gen-es \
  --es_out=gen.new --es_opt=target=ts,import_extension=js \
  "${files[@]}"
rm -rf gen && mv gen.new gen
echo "gen-proto: generated $(find gen -name '*.ts' | wc -l) files from ${#files[@]} .proto files"
