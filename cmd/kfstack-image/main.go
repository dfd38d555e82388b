// Command kfstack-image builds the project's container images without a
// container engine and without a registry, as image tarballs that
// containerd imports ("ctr -n k8s.io images import") and that a release
// pushes to a registry:
//
//	kfstack-image [-out bin/images] [-tag dev] [-busybox /bin/busybox] [image...]
//
// The images are pause (the real node's sandbox), base (BusyBox), runtime
// (the runtime binary on base, built when runtime/cmd/kfstack-runtime
// exists) and python-sklearn (Debian's python3 and python3-sklearn on base,
// built where they are installed); all of them when none is named. `make
// image` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/kfstack/terraform-provider-kubeflow/internal/image"
)

func main() {
	out := flag.String("out", "bin/images", "directory for the image tarballs")
	tag := flag.String("tag", "dev", "tag of every image; never latest")
	busybox := flag.String("busybox", image.DefaultBusybox, "statically linked BusyBox for the base image (Debian: busybox-static)")
	repo := flag.String("repo", ".", "repository root whose packages are compiled")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: kfstack-image [flags] [%s|%s|%s|%s ...]\n", image.PauseImage, image.BaseImage, image.RuntimeImage, image.PythonImage)
		flag.PrintDefaults()
	}
	flag.Parse()
	opts := image.LocalOptions{
		RepoRoot: *repo,
		OutDir:   *out,
		Tag:      *tag,
		Busybox:  *busybox,
		Images:   flag.Args(),
		Progress: os.Stderr,
	}
	if err := run(opts); err != nil {
		fmt.Fprintf(os.Stderr, "kfstack-image: %v\n", err)
		os.Exit(1)
	}
}

// run builds the images and prints each one's reference and tarball.
func run(opts image.LocalOptions) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	built, err := image.BuildLocal(ctx, opts)
	if err != nil {
		return err
	}
	for _, b := range built {
		fmt.Printf("%s\t%s\n", b.Ref, b.Tarball)
	}
	return nil
}
