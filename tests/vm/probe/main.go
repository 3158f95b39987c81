// gomaxprocs-probe prints what the Go runtime sees inside its cgroup.
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

func main() {
	cgroup, _ := os.ReadFile("/proc/self/cgroup")
	fmt.Printf("GOMAXPROCS=%d GOMEMLIMIT=%d CGROUP=%s\n",
		runtime.GOMAXPROCS(0), debug.SetMemoryLimit(-1), strings.TrimSpace(string(cgroup)))
}
