package image

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// MPI images: the equivalents of kubeflow/mpi-operator's images, assembled
// from Debian packages (this machine's release for Open MPI, Debian 13 for
// MPICH, see mpichSuite) as its Dockerfiles do (base: OpenSSH server and
// client, sshd set up for a non-root user mpiuser on port 2222; openmpi:
// Open MPI; mpich: MPICH and an entrypoint that waits until the hosts of
// the hostfile resolve), with the pi example (pi.cc, compiled with
// Debian's mpic++) in /home/mpiuser/pi. Upstream's pi manifests run them
// unchanged once the runtime maps mpioperator/mpi-pi:<flavor> to
// kfstack.local/mpi-pi:<flavor>.

// MPIImage is the name of the pi example's images; the tag is the MPI
// implementation.
const MPIImage = "mpi-pi"

// MPI flavors: the tag of MPIImage, and what it is made of.
const (
	FlavorOpenMPI = "openmpi"
	FlavorMPICH   = "mpich"
)

// mpiFlavor is one MPI implementation's image.
type mpiFlavor struct {
	// packages are the Debian packages of the image (with their
	// dependencies) beside the base's.
	packages []string
	// compiler is mpic++ of this implementation, from its -dev package.
	compiler, devPackage string
	// entrypoint is the image's entrypoint script, if any.
	entrypoint string
	// alternatives are the links update-alternatives would make (the
	// packages' maintainer scripts do not run): mpirun and mpiexec.
	alternatives map[string]string
	// suite is the Debian release the image's packages come from when it
	// is not this machine's own (see mpichSuite).
	suite string
}

// mpiBasePackages are upstream's base image: Debian with the OpenSSH
// server and client (and the shells sshd starts sessions with).
var mpiBasePackages = []string{"openssh-server", "openssh-client", "bash", "dash", "coreutils", "libc-bin"}

var mpiFlavors = map[string]mpiFlavor{
	FlavorOpenMPI: {packages: []string{"openmpi-bin"}, compiler: "mpicxx.openmpi", devPackage: "libopenmpi-dev",
		alternatives: map[string]string{"/usr/bin/mpirun": "mpirun.openmpi", "/usr/bin/mpiexec": "mpiexec.openmpi"}},
	// mpich.Dockerfile's entrypoint resolves the hostfile's hosts before
	// mpirun starts; this one does the same with getent.
	FlavorMPICH: {packages: []string{"mpich"}, compiler: "mpicxx.mpich", devPackage: "libmpich-dev", entrypoint: mpichEntrypoint,
		alternatives: map[string]string{"/usr/bin/mpirun": "mpirun.mpich", "/usr/bin/mpiexec": "mpiexec.mpich"},
		suite:        mpichSuite},
}

// mpichSuite is the Debian release of the MPICH image: trixie (13), as
// upstream's images (FROM debian:trixie), whatever this machine runs.
// Debian 12's MPICH 4.0.2 (ch4:ucx) cannot be used for jobs across pods:
// its MPI_Finalize closes the UCX endpoints with a flush, then waits in a
// PMI barrier without progressing UCX; over UCX's TCP transport (the only
// one between two pods) a flush needs the peer's acknowledgement, so a
// rank whose flush completed first sits in the barrier while its peer
// waits forever for that acknowledgement. mpiexec then never exits though
// every rank printed its output: the launcher, and so the MPIJob, stays
// Running (pmodels/mpich#6596 removed that barrier; MPICH 4.2, Debian 13).
// pi is still compiled with this machine's mpic++: libmpich.so.12 keeps
// its ABI from MPICH 3.1 on, and trixie's C library is newer than the
// one it was linked against.
const mpichSuite = "trixie"

// mpichEntrypoint waits, in the launcher, until the launcher's own name
// and every host of the hostfile resolve (upstream's entrypoint.sh does it
// with nslookup), then runs the command.
const mpichEntrypoint = `#!/bin/sh
resolve() {
  tries=0
  until getent hosts "$1" >/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -ge 50 ]; then echo "Couldn't resolve $1"; return; fi
    sleep 0.2
  done
  echo "Resolved $1"
}
if [ "$K_MPI_JOB_ROLE" = launcher ]; then
  resolve "$(cat /etc/hostname)"
  for host in $(cut -d: -f1 /etc/mpi/hostfile); do resolve "$host"; done
fi
exec "$@"
`

// mpiUser is the non-root user of the images, as upstream's useradd makes
// it.
const (
	mpiUser = "mpiuser"
	mpiUID  = 1000
	mpiHome = "/home/" + mpiUser
	sshPort = "2222"
)

// MPIOptions say what BuildMPI builds and where.
type MPIOptions struct {
	// PiSource is pi.cc, the program the images run.
	PiSource string
	// OutDir receives the image tarballs, mpi-pi-<flavor>.tar.
	OutDir string
	// CacheDir keeps downloaded packages between builds.
	CacheDir string
	// Flavors to build; both when empty.
	Flavors []string
	// Progress receives a line per image; io.Discard when nil.
	Progress io.Writer
}

// MPISupported says why this machine cannot build a flavor's image.
func MPISupported(flavor string) error {
	f, ok := mpiFlavors[flavor]
	if !ok {
		return fmt.Errorf("unknown MPI flavor %q", flavor)
	}
	if err := checkDebianTools(); err != nil {
		return err
	}
	if _, err := exec.LookPath(f.compiler); err != nil {
		return fmt.Errorf("building the %s image needs %s: apt-get install g++ %s", flavor, f.compiler, f.devPackage)
	}
	return nil
}

// BuildMPI builds the pi example's images, kfstack.local/mpi-pi:<flavor>.
func BuildMPI(ctx context.Context, opts MPIOptions) ([]Built, error) {
	flavors := opts.Flavors
	if len(flavors) == 0 {
		flavors = []string{FlavorOpenMPI, FlavorMPICH}
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if _, err := os.Stat(opts.PiSource); err != nil {
		return nil, fmt.Errorf("the pi example's source: %w", err)
	}
	var built []Built
	for _, name := range flavors {
		start := time.Now()
		b, err := buildMPIFlavor(ctx, opts, name)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "built image %s (%s) in %s\n", b.Ref, b.Tarball, time.Since(start).Round(time.Millisecond))
		built = append(built, b)
	}
	return built, nil
}

func buildMPIFlavor(ctx context.Context, opts MPIOptions, name string) (Built, error) {
	if err := MPISupported(name); err != nil {
		return Built{}, err
	}
	f := mpiFlavors[name]
	work, err := os.MkdirTemp("", "kfstack-mpi-image-")
	if err != nil {
		return Built{}, err
	}
	defer os.RemoveAll(work)
	pi := filepath.Join(work, "pi")
	if out, err := exec.CommandContext(ctx, f.compiler, "-O2", "-o", pi, opts.PiSource).CombinedOutput(); err != nil {
		return Built{}, fmt.Errorf("compiling %s with %s: %w\n%s", opts.PiSource, f.compiler, err, out)
	}
	src, debDir := aptSource{}, filepath.Join(opts.CacheDir, "debs")
	if f.suite != "" {
		src, debDir = aptSource{Suite: f.suite, Dir: filepath.Join(opts.CacheDir, "apt-"+f.suite)}, filepath.Join(opts.CacheDir, "debs-"+f.suite)
	}
	debs, err := downloadPackages(ctx, src, debDir, append(append([]string{}, mpiBasePackages...), f.packages...))
	if err != nil {
		return Built{}, err
	}
	root := filepath.Join(work, "rootfs")
	if err := unpackPackages(ctx, debs, root); err != nil {
		return Built{}, err
	}
	system, err := treeFiles(root)
	if err != nil {
		return Built{}, err
	}
	own := mpiFiles(pi)
	for link, target := range f.alternatives {
		own = append(own, File{Path: link, Symlink: target})
	}
	entrypoint := []string(nil)
	if f.entrypoint != "" {
		own = append(own, File{Path: "/entrypoint.sh", Content: []byte(f.entrypoint), Mode: 0o755})
		entrypoint = []string{"/entrypoint.sh"}
	}
	img, err := Build(Spec{
		Layers:     [][]File{system, own},
		Entrypoint: entrypoint,
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		WorkingDir: mpiHome,
		Labels:     map[string]string{"org.opencontainers.image.description": "the pi example of kubeflow/mpi-operator on Debian's " + name},
	})
	if err != nil {
		return Built{}, fmt.Errorf("building the %s image: %w", name, err)
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return Built{}, err
	}
	b := Built{Name: MPIImage + ":" + name, Ref: Registry + "/" + MPIImage + ":" + name, Tarball: filepath.Join(opts.OutDir, MPIImage+"-"+name+".tar")}
	return b, WriteTarball(b.Tarball, b.Ref, img)
}

// mpiFiles are what upstream's base Dockerfile adds to the packages: the
// user mpiuser (1000) and its home, the SSH client's settings (no host
// key checks, since every job has new keys; port 2222), sshd's
// privilege-separation directory and a configuration with which mpiuser
// runs sshd itself on port 2222, and the pi program.
func mpiFiles(pi string) []File {
	sshdConfig := fmt.Sprintf("PidFile %[1]s/sshd.pid\nHostKey %[1]s/.ssh/id_rsa\nStrictModes no\nPort %[2]s\n", mpiHome, sshPort)
	sshConfig := "Host *\n    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    Port " + sshPort + "\n    SendEnv LANG LC_*\n"
	return []File{
		{Path: "/etc/passwd", Content: []byte(fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\nsshd:x:100:65534::/run/sshd:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n%s:x:%d:%d::%s:/bin/bash\n", mpiUser, mpiUID, mpiUID, mpiHome))},
		{Path: "/etc/group", Content: []byte(fmt.Sprintf("root:x:0:\nnogroup:x:65534:\n%s:x:%d:\n", mpiUser, mpiUID))},
		{Path: "/etc/shadow", Content: []byte(fmt.Sprintf("root:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\n%s:*:19000:0:99999:7:::\n", mpiUser)), Mode: 0o640},
		{Path: "/etc/ssh/ssh_config", Content: []byte(sshConfig)},
		{Path: "/etc/ssh/sshd_config", Content: []byte("Port " + sshPort + "\nStrictModes no\n")},
		{Path: "/run/sshd", Dir: true, Mode: 0o755},
		{Path: "/tmp", Dir: true, Mode: 0o777 | os.ModeSticky},
		{Path: "/root", Dir: true, Mode: 0o700},
		{Path: mpiHome, Dir: true, Mode: 0o755, UID: mpiUID, GID: mpiUID},
		{Path: mpiHome + "/.sshd_config", Content: []byte(sshdConfig), UID: mpiUID, GID: mpiUID},
		{Path: mpiHome + "/pi", Source: pi, Mode: 0o755, UID: mpiUID, GID: mpiUID},
	}
}
