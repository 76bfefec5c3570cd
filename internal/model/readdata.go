package model

import (
	"context"

	"github.com/ferry-ml/ferry/internal/data"
)

// ReadData reads data with the model's schema, taking the label, group,
// format and delimiter the model was trained with unless o says
// otherwise; a scoring file may lack the label and group columns.
func (m *Model) ReadData(ctx context.Context, path string, o data.Options) (*data.Dataset, error) {
	o.Schema = m.Manifest.Features
	o.Optional = true
	if o.Label == "" {
		o.Label = m.Manifest.Input.Label
	}
	if o.Group == "" {
		o.Group = m.Manifest.Input.Group
	}
	if o.Format == "" {
		// Data to score is most often in the training data's format,
		// unless its name says otherwise without doubt (LibSVM's many
		// extensions, .txt among them, do not).
		o.Format = data.Format(m.Manifest.Input.Format)
		if f, err := data.FormatOf(path); err == nil && f != data.LibSVM {
			o.Format = f
		}
	}
	if o.Header == "" {
		o.Header = m.Manifest.Input.Header
	}
	if o.Delimiter == 0 && o.Format == data.Format(m.Manifest.Input.Format) && len(m.Manifest.Input.Delimiter) > 0 {
		o.Delimiter = []rune(m.Manifest.Input.Delimiter)[0]
	}
	return data.Read(ctx, path, m.Manifest.Faithful(o))
}
