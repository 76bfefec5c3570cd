package cli

import (
	"errors"
	"os"

	"github.com/ferry-ml/ferry/internal/config"
	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/stage"
)

// withConfig lays ferry.yaml under src when command c takes one (it declares
// a config parameter): the file named by it, or ./ferry.yaml when it exists
// and none is named. It sets env's File and FilePath to what it read.
func withConfig(env *Env, c stage.Command, src input.Source) (input.Source, error) {
	if !c.HasParam("config") {
		return src, nil
	}
	path, _ := src.Lookup("config")
	if path == "" {
		if _, err := os.Stat(config.DefaultPath); errors.Is(err, os.ErrNotExist) {
			return src, nil
		}
		path = config.DefaultPath
	}
	f, err := config.Load(path)
	if err != nil {
		return nil, &UsageError{Err: err} // a mistake in ferry.yaml is the caller's, like a bad flag
	}
	env.File, env.FilePath = f, path
	return config.Layer(src, f, path, c.Name), nil
}
