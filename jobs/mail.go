package jobs

import (
	"encoding/json"
	"fmt"

	"github.com/assospaces/spaces/tenants/secretbox"
)

// mailSealContext binds sealed mail data to mail jobs: a box made for anything else does not open.
const mailSealContext = "mail"

// SealMail returns args with secret (a status link, a one-time password) sealed into Sealed, so
// that it is not stored in clear in the job table.
func SealMail(box *secretbox.Box, args SendMailArgs, secret map[string]string) (SendMailArgs, error) {
	if len(secret) == 0 {
		return args, nil
	}
	b, err := json.Marshal(secret)
	if err != nil {
		return args, fmt.Errorf("seal mail data: %w", err)
	}
	args.Sealed = box.Seal(b, mailSealContext)
	return args, nil
}

// OpenMail returns what SealMail sealed into args. An error means that no retry can open it (a
// box with another key, data that is not what SealMail writes).
func OpenMail(box *secretbox.Box, args SendMailArgs) (map[string]string, error) {
	plain, err := box.Open(args.Sealed, mailSealContext)
	if err != nil {
		return nil, fmt.Errorf("open sealed mail data: %w", err)
	}
	var secret map[string]string
	if err := json.Unmarshal(plain, &secret); err != nil {
		return nil, fmt.Errorf("read sealed mail data: %w", err)
	}
	return secret, nil
}
