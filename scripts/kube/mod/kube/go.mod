// Wrapper module that builds Kubernetes' commands for Ambit's tests; build.sh appends the staging replaces.
module ambit.local/kube-build

go 1.26.0

require k8s.io/kubernetes v1.37.2
