package benchkit

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Target is a bound a measured figure must keep, and how the measurement came out: by the wall
// clock and, when given, by the CPU time of the process. The wall clock decides unless the CPU time
// was made to (see WithCPU).
type Target struct {
	Job, Want, Got string
	CPU            string // the same figure by CPU time, when given

	wall, cpu Spread
	hasCPU    bool
	byCPU     bool // the CPU time decides
	bound     float64
	atLeast   bool
}

// Bound returns the target that the spread's median is at most bound (or, with atLeast, at least
// bound); format writes the figures.
func Bound(job string, got Spread, atLeast bool, bound float64, format func(float64) string) Target {
	op := "≤ "
	if atLeast {
		op = "≥ "
	}
	return Target{Job: job, Want: op + format(bound), Got: FormatSpread(got, format), wall: got, bound: bound, atLeast: atLeast}
}

// WithCPU adds the same figure measured by CPU time, formatted by format; with decides, it is the
// CPU time that decides — on a machine that other processes kept busier than its CPUs, whose wall
// clock they decide. A zero Spread (no CPU time measured) adds nothing.
func (t Target) WithCPU(s Spread, format func(float64) string, decides bool) Target {
	if s != (Spread{}) {
		t.CPU, t.cpu, t.hasCPU, t.byCPU = FormatSpread(s, format), s, true, decides
	}
	return t
}

func (t Target) within(s Spread) bool {
	if t.atLeast {
		return s.Median >= t.bound
	}
	return s.Median <= t.bound
}

// deciding returns the figure that decides.
func (t Target) deciding() Spread {
	if t.byCPU {
		return t.cpu
	}
	return t.wall
}

// Met reports whether the deciding median keeps the bound.
func (t Target) Met() bool { return t.within(t.deciding()) }

// Straddles reports whether the deciding quartiles lie on both sides of the bound: the median
// decides, narrowly.
func (t Target) Straddles() bool { s := t.deciding(); return s.Q1 < t.bound && t.bound < s.Q3 }

// Verdict says plainly whether t is met, by which figure when the CPU time decides, and when the
// other figure disagrees.
func (t Target) Verdict() string {
	v := "**not met**"
	if t.Met() {
		v = "met"
	}
	var notes []string
	if t.byCPU {
		notes = append(notes, "by CPU time")
	}
	if t.Straddles() {
		notes = append(notes, "the quartiles straddle the bound")
	}
	if other, name := t.cpu, "by CPU time"; t.hasCPU {
		if t.byCPU {
			other, name = t.wall, "by the wall clock"
		}
		if t.within(other) != t.Met() {
			by := "not met"
			if t.within(other) {
				by = "met"
			}
			notes = append(notes, name+": "+by)
		}
	}
	if len(notes) > 0 {
		v += " (" + strings.Join(notes, "; ") + ")"
	}
	return v
}

// FormatSpread writes s as "median [Q1–Q3]".
func FormatSpread(s Spread, format func(float64) string) string {
	return fmt.Sprintf("%s [%s–%s]", format(s.Median), format(s.Q1), format(s.Q3))
}

// Ratio writes a ratio: "1.23×".
func Ratio(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) + "×" }

// Duration writes nanoseconds with three significant digits: "628 ns", "63.5 µs", "25.3 ms".
func Duration(ns float64) string {
	switch {
	case ns < 1e3:
		return fmt.Sprintf("%.0f ns", ns)
	case ns < 1e6:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	case ns < 1e9:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
	return fmt.Sprintf("%.3g s", ns/1e9)
}

// Count writes a count per operation: a whole number (in groups of three digits) when it is 10 or
// more or within 0.05 of a whole number, else with one decimal.
func Count(x float64) string {
	if r := math.Round(x); x >= 10 || math.Abs(x-r) < 0.05 {
		s := strconv.FormatInt(int64(r), 10)
		for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
			s = s[:i] + " " + s[i:]
		}
		return s
	}
	return strconv.FormatFloat(x, 'f', 1, 64)
}

// Machine describes the machine and the toolchain: CPUs, CPU model, memory and Go version.
func Machine() string {
	model, mem := "unknown CPU", "unknown memory"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if v, ok := procField(b, "model name"); ok {
			model = v
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if v, ok := procField(b, "MemTotal"); ok {
			if kb, err := strconv.ParseFloat(strings.TrimSuffix(v, " kB"), 64); err == nil {
				mem = fmt.Sprintf("%.1f GiB RAM", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s, %s, %s %s/%s",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(b []byte, name string) (string, bool) {
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// Splice returns doc with the text between the lines <!-- bench:name --> and <!-- /bench:name -->
// replaced by block.
func Splice(doc []byte, name, block string) ([]byte, error) {
	open, end := []byte("<!-- bench:"+name+" -->\n"), []byte("<!-- /bench:"+name+" -->")
	i := bytes.Index(doc, open)
	j := bytes.Index(doc, end)
	if i < 0 || j < i+len(open) {
		return nil, fmt.Errorf("benchkit: no block %q (%s … %s) in the document", name, bytes.TrimSpace(open), end)
	}
	i += len(open)
	block = strings.TrimRight(block, "\n") + "\n"
	return slices.Concat(doc[:i], []byte(block), doc[j:]), nil
}
