package webui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// spaceResize is POST /moderation/spaces/{slug}/resize (operators): new storage and accounts
// limits, refused below what the association uses unless "force" is ticked, as `spaces space
// resize` does. The association is not mailed; the reconciler applies the limits.
func (h *handler) spaceResize(w http.ResponseWriter, r *http.Request) {
	s, ok := h.spaceToDecide(w, r)
	if !ok {
		return
	}
	storageIn := strings.TrimSpace(r.PostForm.Get("storage"))
	accountsIn := strings.TrimSpace(r.PostForm.Get("accounts"))
	force := r.PostForm.Get("force") != ""
	keep := func(p *spacePage) { p.Storage, p.Accounts, p.Force = storageIn, accountsIn, force }

	storage, err := quota.ParseSize(storageIn)
	switch {
	case err != nil || !sizeWithUnit(storageIn):
		h.refuseSpaceInput(w, r, "storage", "spaces.err.size", []any{"value", storageIn}, keep)
		return
	case storage <= 0 || storage > maxStorage:
		h.refuseSpaceInput(w, r, "storage", "spaces.err.size.range", nil, keep)
		return
	}
	// People write thousands with spaces: 1 000, 1 000.
	accounts, err := strconv.Atoi(strings.NewReplacer(" ", "", "\u00a0", "", "\u202f", "").Replace(accountsIn))
	if err != nil || accounts < 1 || accounts > maxSpaceAccounts {
		h.refuseSpaceInput(w, r, "accounts", "spaces.err.accounts", nil, keep)
		return
	}
	after, err := h.decisions.Resize(r.Context(), s.ID, tenants.Resize{StorageBytes: storage, Accounts: accounts, Force: force}, moderatorActor(r))
	if err != nil {
		h.spaceDecisionFailed(w, r, err, keep)
		return
	}
	if after.Limits == s.Limits {
		spaceDecided(w, r, s.Slug, "resize_same")
		return
	}
	h.Logger.InfoContext(r.Context(), "space resized", "space_id", s.ID, "actor", moderatorActor(r), "forced", force)
	spaceDecided(w, r, s.Slug, "resize")
}
