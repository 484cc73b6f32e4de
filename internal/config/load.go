package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"slices"
	"strings"
)

// Load reads the configuration file at path, expands environment variables
// from the process environment, and validates the result. It returns a
// *ParseError or a *ValidationError (wrapped with the path) when the file
// cannot be used.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a configuration document over the defaults, so that a key
// that is absent or empty keeps its default while an explicit value, even a
// zero, is kept and validated.
//
// env looks up environment variables for ${VAR} expansion (os.LookupEnv in
// Load; nil means none is set). Expansion is done on the parsed node tree, in
// values only, so a variable cannot add keys or structure. Secrets named by
// *_file keys are read here, relative to the working directory.
//
// Parse fails with a *ParseError when the document does not fit the schema.
// Problems that do not stop decoding (an unset variable, an unreadable
// secret file) are kept and reported by Validate, which Parse does not call.
func Parse(data []byte, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	root, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	cfg := Default()
	d := &decoder{env: env, maxNodes: len(data) + aliasAllowance}
	if root != nil {
		d.value(root, reflect.ValueOf(cfg).Elem(), "")
	}
	if len(d.errs) > 0 {
		return nil, &ParseError{Problems: d.errs}
	}
	cfg.loadProblems = d.unset
	cfg.fromEnv = d.fromEnv
	readSecretFiles(reflect.ValueOf(cfg).Elem(), "", &cfg.loadProblems)
	cfg.resolveAppDefaults()
	cfg.resolveAuthDefaults()
	return cfg, nil
}

var secretType = reflect.TypeFor[Secret]()

// maxSecretFile bounds a secret file, so that pointing token_file at a large
// or endless file fails instead of exhausting memory.
const maxSecretFile = 64 << 10

// readSecretFiles fills every empty Secret field x whose sibling x_file names
// a file with that file's contents, walking the whole configuration so that
// secrets added in later sections are handled without further code.
func readSecretFiles(v reflect.Value, path string, problems *[]Problem) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			readSecretFiles(v.Elem(), path, problems)
		}
	case reflect.Slice:
		for i := range v.Len() {
			readSecretFiles(v.Index(i), indexPath(path, i), problems)
		}
	case reflect.Map:
		if !holdsSecret(v.Type().Elem()) {
			return
		}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			elem := reflect.New(v.Type().Elem()).Elem()
			elem.Set(v.MapIndex(k))
			readSecretFiles(elem, keyPath(path, k.String()), problems)
			v.SetMapIndex(k, elem)
		}
	case reflect.Struct:
		fs := fields(v.Type())
		for _, f := range fs {
			fv := v.Field(f.index)
			if fv.Type() != secretType {
				readSecretFiles(fv, fieldPath(path, f.name), problems)
				continue
			}
			ff, ok := fieldNamed(fs, f.name+"_file")
			if !ok {
				continue
			}
			file := v.Field(ff.index).String()
			if file == "" {
				continue
			}
			if fv.String() != "" {
				*problems = append(*problems, Problem{Path: path, Msg: f.name + " and " + ff.name + " are both set; set only one"})
				continue
			}
			secret, msg := readSecretFile(file)
			if msg != "" {
				*problems = append(*problems, Problem{Path: fieldPath(path, ff.name), Msg: msg})
				continue
			}
			fv.SetString(secret)
		}
	}
}

// holdsSecret reports whether values of type t can contain a Secret.
func holdsSecret(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		return t == secretType
	case reflect.Pointer, reflect.Slice, reflect.Map:
		return holdsSecret(t.Elem())
	case reflect.Struct:
		for _, f := range fields(t) {
			if holdsSecret(t.Field(f.index).Type) {
				return true
			}
		}
	}
	return false
}

// readSecretFile returns the contents of a secret file without trailing line
// breaks, or a message saying why it cannot be used. The message names
// neither the file (its name may come from a variable) nor its contents.
func readSecretFile(name string) (string, string) {
	info, err := os.Stat(name)
	if err != nil {
		return "", "cannot read the file: " + pathErrorReason(err)
	}
	if !info.Mode().IsRegular() {
		return "", "not a regular file"
	}
	f, err := os.Open(name)
	if err != nil {
		return "", "cannot read the file: " + pathErrorReason(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", "cannot read the file: " + pathErrorReason(err)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Sprintf("file is larger than %d KiB", maxSecretFile>>10)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", "file is empty"
	}
	return s, ""
}

// pathErrorReason returns the reason of a file error without its path.
func pathErrorReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return "I/O error"
}
