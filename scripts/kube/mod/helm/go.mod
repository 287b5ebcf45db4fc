// Wrapper module that builds the helm CLI for Ambit's chart tests (helm lint, helm template), apart from the others.
module ambit.local/helm-build

go 1.26.0

require helm.sh/helm/v4 v4.3.2
