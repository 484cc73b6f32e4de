// Package config owns the gateway's configuration file: its schema, its
// defaults, how it is read and how it is checked. The file is YAML, decoded
// strictly (an unknown or misspelt key is an error with its line), with
// ${VAR}, ${VAR:-default} and $$ expanded in values only, after parsing, so
// that a variable can never add YAML structure. Secrets are a type of their
// own that renders as "<secret>" wherever it is printed, logged or marshalled,
// and every secret key x can instead be read from a file named by x_file.
// Validate reports every problem at once, each with the key path it concerns,
// because a gateway that refuses to start should say everything that is wrong
// in one go. Keeping all of this in one package means every other package
// receives a Config that is already complete and valid. The apps and
// policies sections are checked here as data (names, references, limits,
// filters compiled against the SCIM User schema); package mapping compiles
// their attribute mappings and reports problems in them the same way, with
// the key path.
package config
