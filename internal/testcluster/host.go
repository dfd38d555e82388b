package testcluster

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// What the real node changes on the host, outside its directory: mounts,
// network links, iptables chains, cgroups and processes. Stop undoes it;
// the tests compare hostState before and after.

// mountPoints returns the mount points of this mount namespace, decoded
// from /proc/self/mountinfo.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var points []string
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 64*1024), 1024*1024)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) > 4 {
			points = append(points, unescapeMountPath(fields[4]))
		}
	}
	return points, scanner.Err()
}

// unescapeMountPath decodes the octal escapes (\040 for a space) of
// mountinfo.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder detaches every mount at or below dir, deepest first, and
// fails if any is left: removing a directory with a bind mount of a host
// path inside would delete the host's files.
func unmountUnder(dir string) error {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		dir = resolved
	}
	under := func() ([]string, error) {
		points, err := mountPoints()
		if err != nil {
			return nil, err
		}
		var found []string
		for _, p := range points {
			if p == dir || strings.HasPrefix(p, dir+"/") {
				found = append(found, p)
			}
		}
		sort.Slice(found, func(i, j int) bool { return len(found[i]) > len(found[j]) })
		return found, nil
	}
	for range 3 {
		points, err := under()
		if err != nil {
			return fmt.Errorf("reading mounts: %w", err)
		}
		if len(points) == 0 {
			return nil
		}
		for _, p := range points {
			_ = syscall.Unmount(p, syscall.MNT_DETACH)
		}
	}
	points, err := under()
	if err != nil {
		return fmt.Errorf("reading mounts: %w", err)
	}
	if len(points) > 0 {
		return fmt.Errorf("unmounting under %s: still mounted: %s", dir, strings.Join(points, ", "))
	}
	return nil
}

// RemoveDir removes a cluster's directory after unmounting whatever a
// real node left mounted inside; it removes nothing if a mount stays, as
// that may be a bind mount of a host path.
func RemoveDir(dir string) error {
	if err := unmountUnder(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// kubepodsCgroups returns kubelet's Pod cgroup roots, one per cgroup v1
// hierarchy, or the one of cgroup v2.
func kubepodsCgroups() []string {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	if _, err := os.Stat("/sys/fs/cgroup/kubepods"); err == nil {
		roots = append(roots, "/sys/fs/cgroup/kubepods")
	}
	return roots
}

// kubepodsProcesses returns the processes in kubelet's Pod cgroups.
func kubepodsProcesses() []int {
	seen := map[int]bool{}
	var pids []int
	for _, root := range kubepodsCgroups() {
		// Cgroups disappear while they are walked: what cannot be read is
		// skipped.
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, walkErr error) error {
			if walkErr != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil //nolint:nilerr // see above
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

// removeKubepodsCgroups removes kubelet's Pod cgroups, deepest first,
// waiting up to 10 s for killed processes to leave them.
func removeKubepodsCgroups() error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, root := range kubepodsCgroups() {
			var dirs []string
			_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
			for i := len(dirs) - 1; i >= 0; i-- {
				if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
					left = append(left, dirs[i])
				}
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("removing kubelet's cgroups: still busy: %s", strings.Join(left, ", "))
		}
		for _, pid := range kubepodsProcesses() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// iptablesChains returns the chains of every table, as "iptables
// table/chain" and "ip6tables table/chain"; empty where iptables is not
// installed. Loading a table adds its built-in chains for good.
func iptablesChains() map[string]bool {
	chains := map[string]bool{}
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			continue
		}
		table := ""
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			case strings.HasPrefix(line, ":"):
				chains[tool+" "+table+"/"+strings.Fields(line[1:])[0]] = true
			}
		}
	}
	return chains
}

// removeNewChains deletes the KUBE- chains that kubelet created (its
// canaries for kube-proxy and KUBE-FIREWALL) and are not in before, with
// the rules that jump to them.
func removeNewChains(before map[string]bool) error {
	var errs []error
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			continue
		}
		type chainRef struct{ table, chain string }
		var (
			table   string
			created []chainRef
			jumps   = map[chainRef][]int{} // positions of the rules with a jump, per chain
			counts  = map[chainRef]int{}
			targets = map[chainRef][]string{}
		)
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.Fields(line)
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			case strings.HasPrefix(line, ":") && len(fields) > 0:
				name := fields[0][1:]
				if strings.HasPrefix(name, "KUBE-") && !before[tool+" "+table+"/"+name] {
					created = append(created, chainRef{table, name})
				}
			case len(fields) > 1 && fields[0] == "-A":
				r := chainRef{table, fields[1]}
				counts[r]++
				for i := 2; i+1 < len(fields); i++ {
					if fields[i] == "-j" {
						jumps[r] = append(jumps[r], counts[r])
						targets[r] = append(targets[r], fields[i+1])
					}
				}
			}
		}
		isCreated := map[chainRef]bool{}
		for _, c := range created {
			isCreated[c] = true
		}
		// Delete the jumps from the last to the first, so that the
		// positions of the remaining ones hold.
		for r, positions := range jumps {
			for i := len(positions) - 1; i >= 0; i-- {
				if isCreated[chainRef{r.table, targets[r][i]}] && !isCreated[r] {
					if out, err := exec.Command(tool, "-w", "-t", r.table, "-D", r.chain, strconv.Itoa(positions[i])).CombinedOutput(); err != nil {
						errs = append(errs, fmt.Errorf("deleting %s rule %s/%s %d: %w: %s", tool, r.table, r.chain, positions[i], err, out))
					}
				}
			}
		}
		for _, c := range created {
			_ = exec.Command(tool, "-w", "-t", c.table, "-F", c.chain).Run()
		}
		for _, c := range created {
			if out, err := exec.Command(tool, "-w", "-t", c.table, "-X", c.chain).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("deleting %s chain %s/%s: %w: %s", tool, c.table, c.chain, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// iptablesRules counts the rules of every table, IPv4 and IPv6.
func iptablesRules() int {
	n := 0
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool + "-save").Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "-A ") {
				n++
			}
		}
	}
	return n
}

var builtinChains = map[string]bool{"INPUT": true, "OUTPUT": true, "FORWARD": true, "PREROUTING": true, "POSTROUTING": true}

// hostState counts what a real node leaves on the host.
type hostState struct {
	Mounts int
	Links  int
	// Chains counts user-defined iptables chains: built-in ones appear
	// when a table is first used and stay.
	Chains    int
	Rules     int
	Processes []string
	// HostPaths are the entries of hostPaths that exist.
	HostPaths []string
	// Cgroups counts kubelet's Pod cgroup roots.
	Cgroups int
}

// currentHostState measures the host: mounts, network links, iptables
// chains, and the processes a real node runs (containerd, its shims,
// kubelet, runc, and anything in kubelet's Pod cgroups).
func currentHostState() (hostState, error) {
	var s hostState
	points, err := mountPoints()
	if err != nil {
		return s, err
	}
	s.Mounts = len(points)
	links, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return s, err
	}
	s.Links = len(links)
	for chain := range iptablesChains() {
		name := chain[strings.LastIndex(chain, "/")+1:]
		if !builtinChains[name] {
			s.Chains++
		}
	}
	s.Rules = iptablesRules()
	s.Cgroups = len(kubepodsCgroups())
	for _, p := range hostPaths {
		if _, err := os.Lstat(p); err == nil {
			s.HostPaths = append(s.HostPaths, p)
		}
	}
	entries, _ := os.ReadDir("/proc")
	node := map[string]bool{"containerd": true, "containerd-shim-runc-v2": true, "kubelet": true, "runc": true, "pause": true}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && node[filepath.Base(exe)] {
			s.Processes = append(s.Processes, e.Name()+" "+exe)
		}
	}
	for _, pid := range kubepodsProcesses() {
		s.Processes = append(s.Processes, strconv.Itoa(pid)+" (in kubepods)")
	}
	return s, nil
}

// String summarises the state for a test log.
func (s hostState) String() string {
	return fmt.Sprintf("%d mounts, %d links, %d iptables chains and %d rules, %d kubepods cgroups, %d node processes, host paths %v",
		s.Mounts, s.Links, s.Chains, s.Rules, s.Cgroups, len(s.Processes), s.HostPaths)
}
