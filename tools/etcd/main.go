// Command etcd is etcd's own server entrypoint, built from go.etcd.io/etcd
// so that the local test cluster needs no binary download. Debian's etcd
// 3.4 is too old for Kubernetes 1.37.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
