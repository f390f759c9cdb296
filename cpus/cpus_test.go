package cpus

import (
	"slices"
	"strings"
	"testing"
)

func TestParseAndString(t *testing.T) {
	for in, want := range map[string]string{"1": "1", "0-3": "0-3", "3,0-1,1": "0-1,3", " 0 , 2-4 ,6": "0,2-4,6"} {
		s, err := Parse(in)
		if err != nil || s.String() != want {
			t.Errorf("Parse(%q) = %v (%v), want %s", in, s, err, want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1-", "1,,2"} {
		if _, err := Parse(bad); err == nil || !strings.Contains(err.Error(), "CPU list") {
			t.Errorf("Parse(%q): %v, want an error", bad, err)
		}
	}
}

func TestSplitAndCheck(t *testing.T) {
	if p := Split(Set{0}); p.Apart() {
		t.Errorf("one CPU split into %+v", p)
	}
	p := Split(Set{0, 1})
	if !slices.Equal(p.Generator, Set{0}) || !slices.Equal(p.Server, Set{1}) || p.Check(Set{0, 1}, false) != nil {
		t.Errorf("2 CPUs: %+v", p)
	}
	if p := Split(Set{0, 1, 2, 3, 4}); !slices.Equal(p.Generator, Set{0, 1}) || !slices.Equal(p.Server, Set{2, 3, 4}) {
		t.Errorf("5 CPUs: %+v", p)
	}
	if err := (Placement{Server: Set{1, 7}, Generator: Set{0}}).Check(Set{0, 1}, false); err == nil || !strings.Contains(err.Error(), "--server-cpus 1,7: CPU 7 is not one") {
		t.Errorf("CPU 7 on a 2-CPU host: %v", err)
	}
	shared := Placement{Server: Set{0, 1}, Generator: Set{1}}
	if err := shared.Check(Set{0, 1}, false); err == nil || !strings.Contains(err.Error(), "--share-cpus") {
		t.Errorf("overlap: %v", err)
	}
	if err := shared.Check(Set{0, 1}, true); err != nil {
		t.Errorf("overlap with --share-cpus: %v", err)
	}
}

// Pin moves every thread of this process to a set, and back.
func TestPin(t *testing.T) {
	was, err := Allowed()
	if err != nil || len(was) == 0 {
		t.Fatal(was, err)
	}
	t.Cleanup(func() { _ = Pin(was) })
	one := Set{was[len(was)-1]}
	if err := Pin(one); err != nil {
		t.Fatal(err)
	}
	if now, err := Allowed(); err != nil || !slices.Equal(now, one) {
		t.Errorf("after Pin(%s): %s, %v", one, now, err)
	}
}
