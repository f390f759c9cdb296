package loadcheck

import "github.com/loadcheck/loadcheck/results"

// store is a run folder, or nothing when dir is "".
type store struct{ dir string }

func newStore(parent, runID string) (store, error) {
	if parent == "" {
		return store{}, nil
	}
	dir, err := results.CreateRunDir(parent, runID)
	return store{dir: dir}, err
}

func (st store) save(f *results.File) error {
	if st.dir == "" {
		return nil
	}
	return f.Save(st.dir)
}

func (st store) where() string {
	if st.dir == "" {
		return "not stored"
	}
	return "storing results in " + st.dir
}
