// Command hello stands in for the runtime's launcher in the real node's
// tests: "hello install DEST" copies this executable to DEST (what an init
// container does with the launcher), and "hello run MESSAGE CODE" prints
// a greeting, writes MESSAGE as the termination message and exits with
// CODE.
package main

import (
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == "install" {
		self, err := os.ReadFile("/proc/self/exe")
		if err == nil {
			err = os.WriteFile(os.Args[2], self, 0o755)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) == 4 && os.Args[1] == "run" {
		fmt.Println("hello from a real container")
		code, _ := strconv.Atoi(os.Args[3])
		if err := os.WriteFile("/dev/termination-log", []byte(os.Args[2]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(code)
	}
	fmt.Fprintln(os.Stderr, "usage: hello install DEST | hello run MESSAGE CODE")
	os.Exit(2)
}
