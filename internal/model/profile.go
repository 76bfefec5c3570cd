package model

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"

	"github.com/ferry-ml/ferry/internal/data"
	"github.com/ferry-ml/ferry/internal/profile"
)

// WriteProfile profiles the training data at path, read as m reads data,
// with m's own scores on it, and writes profile.json into m's directory. It
// is for models ferry did not train (an import, a team's command), whose
// validation rows it does not know: the score is profiled on the training
// rows.
func (m *Model) WriteProfile(ctx context.Context, path string, read data.Options) error {
	d, err := m.ReadData(ctx, path, read)
	if err != nil {
		return fmt.Errorf("profile the training data: %w", err)
	}
	p := profile.Compute(d, m.PredictDataset(d), "train", 0)
	if err := data.WriteFileAtomic(filepath.Join(m.Dir, profile.File), func(w io.Writer) error {
		return json.NewEncoder(w).Encode(p)
	}); err != nil {
		return err
	}
	m.Profile = p
	return nil
}
