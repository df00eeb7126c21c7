module etcd-k8s-operator/bench/go-peer

go 1.19
