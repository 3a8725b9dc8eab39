package pamtest

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mountnsScript sets up the namespace; see mountns.sh.
//
//go:embed mountns.sh
var mountnsScript string

// Mounts describes a private mount namespace for a PAM application under
// test (sshd, su, sudo): files of the test stand in for the machine's, such
// as a service directory over /etc/pam.d and a sudoers over /etc/sudoers,
// and /dev is a small tmpfs holding the usual device nodes (bind-mounted
// from the real /dev) and a /dev/log that is the test's socket. The mounts
// exist only for the application and its children and vanish when the last
// of them exits; nothing is written to the machine's /etc or /dev, and the
// application runs the machine's unmodified libpam, as in production.
type Mounts struct {
	// Dir is a directory of the test's own, in which the new /dev is
	// built (Dir/dev).
	Dir string
	// Syslog is the socket that becomes /dev/log: a SyslogSink's Path.
	Syslog string
	// Binds are mounted in order, each Source over its Target, which
	// must exist and be of the same kind (file or directory).
	Binds []Bind
}

// Bind is one bind mount of Mounts.
type Bind struct {
	Source, Target string
}

// Command returns the command line that runs argv in the namespace m
// describes. It needs root.
func (m Mounts) Command(argv ...string) []string {
	args := []string{"unshare", "--mount", "--propagation", "private",
		"/bin/sh", "-c", mountnsScript, "mountns.sh", m.Dir, m.Syslog}
	for _, b := range m.Binds {
		args = append(args, b.Source, b.Target)
	}
	args = append(args, "--")
	return append(args, argv...)
}

// MountNS returns the mount namespace of process pid, as readlink
// /proc/PID/ns/mnt shows it, and an error if it is this process's own: a
// program that was to run in a private namespace does not.
func MountNS(pid int) (string, error) {
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return "", fmt.Errorf("the mount namespace of process %d: %w", pid, err)
	}
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || own == ns {
		return "", fmt.Errorf("process %d does not run in a private mount namespace (%s, own %s, %v)", pid, ns, own, err)
	}
	return ns, nil
}

// KillMountNS kills every process in the mount namespace ns (as MountNS
// returned it) and waits, at most wait, until none is left. A private
// namespace holds only what the test started, however deep the processes'
// sessions and process groups go. It refuses this process's own namespace.
func KillMountNS(ns string, wait time.Duration) error {
	if ns == "" {
		return nil
	}
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || own == ns {
		return fmt.Errorf("refusing to kill the processes of mount namespace %s (own %s, %v)", ns, own, err)
	}
	deadline := time.Now().Add(wait)
	for {
		pids := pidsInMountNS(ns)
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes %v of mount namespace %s outlived SIGKILL by %s", pids, ns, wait)
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DescribeMountNS lists the processes in mount namespace ns, one a line:
// pid, command line, state, what the kernel waits on (wchan), and the
// signal masks of /proc/PID/status; then their children that have exited
// and were not reaped (a parent that missed SIGCHLD). For the message of a
// test whose program hung.
func DescribeMountNS(ns string) string {
	var b strings.Builder
	pids := pidsInMountNS(ns)
	for _, pid := range pids {
		dir := fmt.Sprintf("/proc/%d/", pid)
		cmdline, _ := os.ReadFile(dir + "cmdline")
		wchan, _ := os.ReadFile(dir + "wchan")
		status, _ := os.ReadFile(dir + "status")
		fmt.Fprintf(&b, "%d %q wchan=%s", pid, cmdlineTitle(cmdline), wchan)
		for _, line := range strings.Split(string(status), "\n") {
			for _, key := range []string{"State:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:"} {
				if v, ok := strings.CutPrefix(line, key); ok {
					fmt.Fprintf(&b, " %s%s", key, strings.TrimSpace(v))
				}
			}
		}
		b.WriteString("\n")
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		stat, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		st, err := parseStat(stat)
		if err == nil && st.state == "Z" && slices.Contains(pids, st.ppid) {
			fmt.Fprintf(&b, "%s: exited, not reaped by %d\n", st.name, st.ppid)
		}
	}
	return b.String()
}

// pidsInMountNS lists the processes whose mount namespace is ns. Zombies
// are left out: they hold no namespace any more and go once their parent
// reaps them.
func pidsInMountNS(ns string) []int {
	entries, _ := filepath.Glob("/proc/[0-9]*")
	var pids []int
	for _, dir := range entries {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if link, err := os.Readlink(dir + "/ns/mnt"); err == nil && link == ns {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Process is one process as /proc showed it at one moment.
type Process struct {
	PID, PPID int
	// Title is its command line with the arguments joined by spaces: for
	// programs that rewrite it (sshd's setproctitle), what they say they
	// are doing, such as "sshd-session: alice [priv]".
	Title string
	// Mapped are the base names of the files mapped into its memory: its
	// program, the shared libraries and the modules it has loaded.
	Mapped []string
}

// Maps reports whether a file whose base name starts with prefix is
// mapped into p: "libpam.so" finds libpam.so.0.85.1.
func (p Process) Maps(prefix string) bool {
	return slices.ContainsFunc(p.Mapped, func(name string) bool { return strings.HasPrefix(name, prefix) })
}

// MountNSProcesses lists the processes in mount namespace ns (as MountNS
// returned it), leaving out those that exit while it reads them.
func MountNSProcesses(ns string) []Process {
	var procs []Process
	for _, pid := range pidsInMountNS(ns) {
		if p, err := readProcess(pid); err == nil {
			procs = append(procs, p)
		}
	}
	return procs
}

// readProcess reads one process's parent, title and mappings.
func readProcess(pid int) (Process, error) {
	dir := fmt.Sprintf("/proc/%d/", pid)
	stat, err := os.ReadFile(dir + "stat")
	if err != nil {
		return Process{}, err
	}
	st, err := parseStat(stat)
	if err != nil {
		return Process{}, fmt.Errorf("%sstat: %w", dir, err)
	}
	cmdline, err := os.ReadFile(dir + "cmdline")
	if err != nil {
		return Process{}, err
	}
	maps, err := os.ReadFile(dir + "maps")
	if err != nil {
		return Process{}, err
	}
	p := Process{PID: pid, PPID: st.ppid, Title: cmdlineTitle(cmdline)}
	for _, line := range strings.Split(string(maps), "\n") {
		// "start-end perms offset dev inode path": the path is the sixth
		// field, absent for anonymous memory.
		if f := strings.Fields(line); len(f) >= 6 && strings.HasPrefix(f[5], "/") {
			if name := filepath.Base(f[5]); !slices.Contains(p.Mapped, name) {
				p.Mapped = append(p.Mapped, name)
			}
		}
	}
	return p, nil
}

// procStat is what the tests use of /proc/PID/stat.
type procStat struct {
	name  string // "PID (comm)"
	state string // "R", "S", "Z", ...
	ppid  int
}

// parseStat parses the start of /proc/PID/stat, "PID (comm) STATE PPID
// ...". comm may hold spaces and parentheses, so it ends at the last ')'.
func parseStat(stat []byte) (procStat, error) {
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return procStat{}, fmt.Errorf("cannot parse %q: no (comm)", stat)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 2 {
		return procStat{}, fmt.Errorf("cannot parse %q: no state and parent after (comm)", stat)
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStat{}, fmt.Errorf("cannot parse %q: parent: %w", stat, err)
	}
	return procStat{name: string(stat[:end+1]), state: fields[0], ppid: ppid}, nil
}

// cmdlineTitle is /proc/PID/cmdline with its arguments joined by spaces.
// Only the final NULs are trimmed, so an argument's own trailing spaces
// stay.
func cmdlineTitle(cmdline []byte) string {
	return strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " ")
}
