# The Ambit image the Helm chart (manifests/ambit) and `ambit install` reference: one image, every role
# (`controlplane`, `ztunnel`, `nodeagent`, `waypoint run`), entry point the `ambit` CLI.
#   docker build -t ambit/ambit:0.1.0 .
FROM node:20-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 g++ make && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY src ./src
COPY proto ./proto
COPY examples ./examples
RUN npx tsc -p tsconfig.json && npm prune --omit=dev

FROM node:20-bookworm-slim
# nft and ip: the node agent installs capture rules inside pod network namespaces.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends nftables iproute2 ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/ambit
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/native/build/Release/ambit_net.node ./native/build/Release/ambit_net.node
# The static ambit-cni plugin executable, which the node agent copies into each node's CNI bin dir.
COPY --from=build /src/native/build/Release/ambit-cni ./native/build/Release/ambit-cni
COPY --from=build /src/dist ./dist
ENTRYPOINT ["node", "/opt/ambit/dist/src/main.js"]
