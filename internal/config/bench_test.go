package config

import "testing"

func BenchmarkParseExample(b *testing.B) {
	data := readExample(b)
	env := envMap(map[string]string{"SCIM_GATEWAY_TOKEN": "bench-token-0123456789abcdef"})
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Parse(data, env)
		if err != nil {
			b.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRedactedExample(b *testing.B) {
	cfg, err := Parse(readExample(b), envMap(map[string]string{"SCIM_GATEWAY_TOKEN": "bench-token-0123456789abcdef"}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cfg.Redacted(); err != nil {
			b.Fatal(err)
		}
	}
}
