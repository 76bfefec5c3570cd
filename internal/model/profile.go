package model

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/profile"
)

// WriteProfile profiles the training data at path, read as the model in
// dir reads data, with the model's own scores on it, and writes
// profile.json into dir. It is for models ferry did not train (an import,
// a team's command), whose validation rows it does not know: the score is
// profiled on the training rows.
func WriteProfile(dir, path string, read data.Options) error {
	m, err := Load(dir)
	if err != nil {
		return err
	}
	d, err := m.ReadData(path, read)
	if err != nil {
		return fmt.Errorf("profile the training data: %w", err)
	}
	p := profile.Compute(d, m.PredictDataset(d), "train", 0)
	return data.WriteFileAtomic(filepath.Join(dir, profile.File), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(p)
	})
}
