package store

import "testing"

func TestUnique(t *testing.T) {
	for index, want := range map[string]bool{
		IndexUserName:    true,
		IndexExternalID:  false,
		IndexDisplayName: true,
		IndexEmail:       false,
		"title":          true, // a name the contract does not define is unique, as every index was
	} {
		if got := Unique(index); got != want {
			t.Errorf("Unique(%q) = %v, want %v", index, got, want)
		}
	}
}
