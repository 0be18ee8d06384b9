package digelao

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// Secret holds a credential — an api_key, a password, an access secret, a push token — that no
// printer reveals: fmt (every verb, %#v included, also as a field of another struct, exported or
// not), slog and json.Marshal all write "[REDACTED]" (nothing for an empty Secret). Value returns
// the credential itself. The zero value is the empty Secret.
//
// A Secret holds its text behind a pointer, so that even reflection-based printers that cannot
// call its methods (a Secret inside an unexported field) print an address, not the text.
type Secret struct{ v *string }

// redacted is what every printer writes for a non-empty Secret.
const redacted = "[REDACTED]"

// NewSecret returns s as a Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{v: &s}
}

// Value returns the credential itself. Call it only to send the credential where it belongs.
func (s Secret) Value() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether s is empty.
func (s Secret) IsZero() bool { return s.v == nil || *s.v == "" }

// Equal reports whether s and o hold the same credential, comparing in constant time.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Value()), []byte(o.Value())) == 1
}

// String returns "[REDACTED]", or "" for an empty Secret.
func (s Secret) String() string {
	if s.IsZero() {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the credential.
func (s Secret) GoString() string { return fmt.Sprintf("digelao.Secret(%q)", s.String()) }

// Format writes String for every verb, so no verb (%x, %q, %d …) reaches the credential.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// LogValue keeps slog from printing the credential.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON writes "[REDACTED]" ("" for an empty Secret): a Secret marshalled by a logger, a
// debug dump or an API response never carries the credential. Stores that must keep one use its
// Value (Session does so in MarshalBinary).
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

var errRedactedSecret = errors.New(`digelao: a redacted secret ("[REDACTED]") cannot be read back; marshal the credential with Value`)

// UnmarshalJSON reads a credential from a JSON string, such as a configuration file. It refuses
// "[REDACTED]", so that a Secret marshalled with json.Marshal is not silently read back as a
// credential that does not work.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v *string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	if v != nil && *v == redacted {
		return errRedactedSecret
	}
	*s = Secret{}
	if v != nil {
		*s = NewSecret(*v)
	}
	return nil
}
