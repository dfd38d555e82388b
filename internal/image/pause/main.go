// Command pause is the sandbox process of every Pod on the local cluster's
// real node: it holds the Pod's namespaces until it is told to stop. As
// the first process of a shared PID namespace it also reaps the orphans
// that are handed to it. It is built with CGO_ENABLED=0 into the
// kfstack.local/pause image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
