// Command kfstack-image builds the project's container images without a
// container engine and without a registry, as image tarballs that
// containerd imports ("ctr -n k8s.io images import") and that a release
// pushes to a registry:
//
//	kfstack-image [-out bin/images] [-tag dev] [-busybox /bin/busybox] [image...]
//
// The images are pause (the real node's sandbox), base (BusyBox) and
// runtime (the runtime binary on base, built when runtime/cmd/kfstack-runtime
// exists), and mpi-pi:openmpi and mpi-pi:mpich (kubeflow/mpi-operator's pi
// example on Debian's Open MPI and MPICH, from -pi and Debian packages);
// all of them when none is named (the MPI images where -pi exists and
// Debian's MPI compilers are installed). `make image` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/kfstack/terraform-provider-kubeflow/internal/image"
)

func main() {
	out := flag.String("out", "bin/images", "directory for the image tarballs")
	tag := flag.String("tag", "dev", "tag of every image; never latest")
	busybox := flag.String("busybox", image.DefaultBusybox, "statically linked BusyBox for the base image (Debian: busybox-static)")
	repo := flag.String("repo", ".", "repository root whose packages are compiled")
	pi := flag.String("pi", "../shared/testdata/mpi/pi/pi.cc", "pi.cc of mpi-operator's pi example, for the MPI images")
	cache := flag.String("cache", "", "directory that keeps downloaded Debian packages (default: -out/cache)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: kfstack-image [flags] [%s|%s|%s|%s:%s|%s:%s ...]\n", image.PauseImage, image.BaseImage, image.RuntimeImage, image.MPIImage, image.FlavorOpenMPI, image.MPIImage, image.FlavorMPICH)
		flag.PrintDefaults()
	}
	flag.Parse()
	var local, flavors []string
	for _, name := range flag.Args() {
		if flavor, ok := strings.CutPrefix(name, image.MPIImage+":"); ok {
			flavors = append(flavors, flavor)
		} else {
			local = append(local, name)
		}
	}
	all := flag.NArg() == 0
	opts := image.LocalOptions{
		RepoRoot: *repo,
		OutDir:   *out,
		Tag:      *tag,
		Busybox:  *busybox,
		Images:   local,
		Progress: os.Stderr,
	}
	if *cache == "" {
		*cache = filepath.Join(*out, "cache")
	}
	mpi := image.MPIOptions{PiSource: *pi, OutDir: *out, CacheDir: *cache, Flavors: flavors, Progress: os.Stderr}
	if all {
		mpi.Flavors = buildableFlavors(*pi)
	}
	if err := run(opts, mpi, all || len(local) > 0); err != nil {
		fmt.Fprintf(os.Stderr, "kfstack-image: %v\n", err)
		os.Exit(1)
	}
}

// buildableFlavors are the MPI images this machine can build; it says
// why it skips the others.
func buildableFlavors(pi string) []string {
	if _, err := os.Stat(pi); err != nil {
		fmt.Fprintf(os.Stderr, "skipping the MPI images: no pi example at %s (-pi)\n", pi)
		return nil
	}
	var out []string
	for _, f := range []string{image.FlavorOpenMPI, image.FlavorMPICH} {
		if err := image.MPISupported(f); err != nil {
			fmt.Fprintf(os.Stderr, "skipping %s:%s: %v\n", image.MPIImage, f, err)
			continue
		}
		out = append(out, f)
	}
	return out
}

// run builds the images and prints each one's reference and tarball.
func run(opts image.LocalOptions, mpi image.MPIOptions, local bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var built []image.Built
	if local {
		b, err := image.BuildLocal(ctx, opts)
		if err != nil {
			return err
		}
		built = b
	}
	if len(mpi.Flavors) > 0 {
		b, err := image.BuildMPI(ctx, mpi)
		if err != nil {
			return err
		}
		built = append(built, b...)
	}
	for _, b := range built {
		fmt.Printf("%s\t%s\n", b.Ref, b.Tarball)
	}
	return nil
}
