package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// MainConfigFile is the stand-in's config/config.php: the file install and `occ config:system:set`
// write. Every other `*.config.json` file of the directory is merged over it in name order, like
// Nextcloud's `config/*.config.php` (a template can drop `limits.config.json` beside it).
const MainConfigFile = "config.json"

// SystemConfig is the instance's system configuration, read from a config directory. Changes
// made by another process (occ) are seen at the next read: the files are re-read whenever their
// names, sizes or modification times change.
type SystemConfig struct {
	dir string

	mu     sync.Mutex
	sig    string
	merged map[string]any
	origin map[string]string
}

// NewSystemConfig reads (and creates when missing) the config directory dir.
func NewSystemConfig(dir string) (*SystemConfig, error) {
	if dir == "" {
		return nil, errors.New("config directory is empty")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create config directory: %w", err)
	}
	c := &SystemConfig{dir: dir}
	if _, err := c.values(); err != nil {
		return nil, err
	}
	return c, nil
}

// files lists the main file then the extra files in name order, with a signature of their state.
func (c *SystemConfig) files() ([]string, string, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, "", fmt.Errorf("read config directory: %w", err)
	}
	var extra []string
	hasMain := false
	for _, e := range entries {
		n := e.Name()
		switch {
		case n == MainConfigFile:
			hasMain = true
		case strings.HasSuffix(n, ".config.json") && !e.IsDir():
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	names := extra
	if hasMain {
		names = append([]string{MainConfigFile}, extra...)
	}
	var sig strings.Builder
	for _, n := range names {
		info, err := os.Stat(filepath.Join(c.dir, n))
		if err != nil {
			return nil, "", fmt.Errorf("stat config file: %w", err)
		}
		fmt.Fprintf(&sig, "%s:%d:%d;", n, info.Size(), info.ModTime().UnixNano())
	}
	return names, sig.String(), nil
}

// values returns the merged configuration, re-reading the files when they changed.
func (c *SystemConfig) values() (map[string]any, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.valuesLocked()
}

func (c *SystemConfig) valuesLocked() (map[string]any, error) {
	names, sig, err := c.files()
	if err != nil {
		return nil, err
	}
	if c.merged != nil && sig == c.sig {
		return c.merged, nil
	}
	merged, origin := map[string]any{}, map[string]string{}
	for _, n := range names {
		m, err := readConfigFile(filepath.Join(c.dir, n))
		if err != nil {
			return nil, err
		}
		for k, v := range m {
			merged[k], origin[k] = v, n
		}
	}
	c.merged, c.origin, c.sig = merged, origin, sig
	return merged, nil
}

func readConfigFile(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	m := map[string]any{}
	if len(strings.TrimSpace(string(b))) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse config file %s: %w", filepath.Base(path), err)
	}
	return m, nil
}

// Value returns a key's merged value, or nil.
func (c *SystemConfig) Value(key string) (any, error) {
	m, err := c.values()
	if err != nil {
		return nil, err
	}
	return m[key], nil
}

// Bool reads a key as Nextcloud's getSystemValueBool does: true, "true", "yes", "on" and 1 are true.
func (c *SystemConfig) Bool(key string, def bool) bool {
	v, err := c.Value(key)
	if err != nil || v == nil {
		return def
	}
	switch t := v.(type) {
	case bool:
		return t
	case float64:
		return t != 0
	case string:
		switch strings.ToLower(t) {
		case "true", "yes", "on", "1":
			return true
		}
		return false
	}
	return def
}

// Int reads a key as an integer, or def when it is missing or not a number.
func (c *SystemConfig) Int(key string, def int) int {
	v, err := c.Value(key)
	if err != nil || v == nil {
		return def
	}
	switch t := v.(type) {
	case float64:
		return int(t)
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(t)); err == nil {
			return n
		}
	case bool:
		if t {
			return 1
		}
		return 0
	}
	return def
}

// Strings reads a key holding a list (trusted_domains); a single string is a list of one.
func (c *SystemConfig) Strings(key string) []string {
	v, err := c.Value(key)
	if err != nil || v == nil {
		return nil
	}
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case map[string]any:
		// A PHP array with explicit keys (0 => ..., 1 => ...), in key order.
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			a, ea := strconv.Atoi(keys[i])
			b, eb := strconv.Atoi(keys[j])
			if ea == nil && eb == nil {
				return a < b
			}
			return keys[i] < keys[j]
		})
		var out []string
		for _, k := range keys {
			if s, ok := t[k].(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Set writes key = value into the main file. A key defined by another `*.config.json` file would
// stay overridden by it, so that is refused (edit that file instead). A nil value deletes the key.
func (c *SystemConfig) Set(key string, value any) error {
	return c.Update(map[string]any{key: value})
}

// Update writes several keys at once into the main file (atomically, by rename).
func (c *SystemConfig) Update(values map[string]any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.valuesLocked(); err != nil {
		return err
	}
	for k := range values {
		if o := c.origin[k]; o != "" && o != MainConfigFile {
			return fmt.Errorf("config key %q is set in %s, which overrides %s: edit that file", k, o, MainConfigFile)
		}
	}
	path := filepath.Join(c.dir, MainConfigFile)
	m, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		m, err = map[string]any{}, nil
	}
	if err != nil {
		return err
	}
	for k, v := range values {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	if err := writeJSONFile(c.dir, MainConfigFile, m); err != nil {
		return err
	}
	c.merged = nil // force a re-read: mtimes may not change within the clock's resolution
	return nil
}

// Values returns a copy of the merged configuration.
func (c *SystemConfig) Values() (map[string]any, error) {
	m, err := c.values()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out, nil
}

// writeFile replaces the extra config file name (a *.config.json beside config.json) with values.
func (c *SystemConfig) writeFile(name string, values map[string]any) error {
	if !strings.HasSuffix(name, ".config.json") || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("config file %q: want NAME.config.json", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := writeJSONFile(c.dir, name, values); err != nil {
		return err
	}
	c.merged = nil
	return nil
}

// writeJSONFile writes values as indented JSON to dir/name, atomically (by rename).
func writeJSONFile(dir, name string, values map[string]any) error {
	b, err := json.MarshalIndent(values, "", "  ")
	if err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.tmp")
	if err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

// ParseValue converts an occ `--value` with its `--type` (string, integer, double, boolean, json).
func ParseValue(value, typ string) (any, error) {
	switch typ {
	case "", "string":
		return value, nil
	case "integer", "int":
		n, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not an integer", value)
		}
		return float64(n), nil
	case "double", "float":
		f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || math.IsNaN(f) {
			return nil, fmt.Errorf("value %q is not a number", value)
		}
		return f, nil
	case "boolean", "bool":
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true", "1", "yes", "on":
			return true, nil
		case "false", "0", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("value %q is not a boolean", value)
	case "json":
		var v any
		if err := json.Unmarshal([]byte(value), &v); err != nil {
			return nil, fmt.Errorf("value is not json: %w", err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("type %q: want string, integer, double, boolean or json", typ)
}
