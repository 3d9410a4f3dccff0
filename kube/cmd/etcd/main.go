// Command etcd is the etcd server of the pinned Kubernetes release's own etcd version (the one its
// go.mod requires), so the lab's API server always meets the etcd it was released with.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
