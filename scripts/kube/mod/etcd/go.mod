// Wrapper module that builds etcd and etcdctl for Ambit's tests, apart from Kubernetes' dependency versions.
module ambit.local/etcd-build

go 1.26.0

require go.etcd.io/etcd/server/v3 v3.6.16

require go.etcd.io/etcd/etcdctl/v3 v3.6.16
