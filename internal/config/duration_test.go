package config

import (
	"encoding/json"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestParseDuration(t *testing.T) {
	valid := map[string]time.Duration{
		"90s":     90 * time.Second,
		"24h":     24 * time.Hour,
		"1h30m":   90 * time.Minute,
		"250ms":   250 * time.Millisecond,
		"0":       0,
		"7d":      7 * 24 * time.Hour,
		"30d":     720 * time.Hour,
		"1d12h":   36 * time.Hour,
		"+2d":     48 * time.Hour,
		"-1d":     -24 * time.Hour,
		"-1d12h":  -36 * time.Hour,
		"0d":      0,
		"106751d": 106751 * 24 * time.Hour,
		"-5m":     -5 * time.Minute,
	}
	for in, want := range valid {
		got, err := ParseDuration(in)
		if err != nil || got.Std() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got.Std(), err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "1.5d", "7 d", "d7", "1d-1h", "1d+1h", "1dd", "5s1d", "7days",
		"9999999999999999999d", "106752d", "106751d24h", "abc", "1y"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got.Std())
		}
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                  "0s",
		90 * time.Second:                   "1m30s",
		time.Hour:                          "1h",
		90 * time.Minute:                   "1h30m",
		720 * time.Hour:                    "720h",
		10 * time.Minute:                   "10m",
		-time.Hour:                         "-1h",
		time.Hour + 500*time.Millisecond:   "1h0m0.5s",
		2*time.Hour + 10*time.Minute + 5e9: "2h10m5s",
	} {
		got := Duration(d).String()
		if got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		back, err := ParseDuration(got)
		if err != nil || back.Std() != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back.Std(), err, d)
		}
	}
}

func TestDurationMarshalling(t *testing.T) {
	type wrap struct {
		D Duration `yaml:"d" json:"d"`
	}
	y, err := yaml.Marshal(wrap{D: Duration(36 * time.Hour)})
	if err != nil || string(y) != "d: 36h\n" {
		t.Fatalf("yaml.Marshal = %q, %v", y, err)
	}
	var w wrap
	if err := yaml.Unmarshal([]byte("d: 1d12h"), &w); err != nil || w.D.Std() != 36*time.Hour {
		t.Fatalf("yaml.Unmarshal = %v, %v", w.D, err)
	}
	if err := yaml.Unmarshal([]byte("d: [1h]"), &w); err == nil {
		t.Fatal("yaml.Unmarshal of a list into a Duration succeeded")
	}
	if err := yaml.Unmarshal([]byte("d: soon"), &w); err == nil {
		t.Fatal("yaml.Unmarshal of an invalid duration succeeded")
	}
	j, err := json.Marshal(wrap{D: Duration(90 * time.Second)})
	if err != nil || string(j) != `{"d":"1m30s"}` {
		t.Fatalf("json.Marshal = %s, %v", j, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"7d"}`), &w); err != nil || w.D.Std() != 7*24*time.Hour {
		t.Fatalf("json.Unmarshal = %v, %v", w.D, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"7x"}`), &w); err == nil {
		t.Fatal("json.Unmarshal of an invalid duration succeeded")
	}
}
