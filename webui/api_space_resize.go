package webui

import (
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/quota"
	"github.com/assospaces/spaces/tenants"
)

// sizeForms names the sizes the API and quota.ParseSize accept.
const sizeForms = `a number of bytes ("1073741824") or a number with a unit KB, MB, GB or TB ("80 GB", "80GB", "1.5 TB", "512mb"); units are binary (1 GB = 1024³ bytes)`

// apiSpaceResize is POST /api/v1/spaces/{slug}/resize with {"storage": "80 GB", "accounts": 100,
// "force": false}, either limit or both: the space's new limits, a decision under the token that
// the reconciler applies (the generation goes up). A limit below what the space uses is refused
// (422 below_usage) unless force; asking for the limits it has is 400 nothing_to_change.
func (h *handler) apiSpaceResize(w http.ResponseWriter, r *http.Request) {
	s, ok := h.apiSpaceBySlug(w, r)
	if !ok {
		return
	}
	var body struct {
		Storage  *string `json:"storage"`
		Accounts *int    `json:"accounts"`
		Force    bool    `json:"force"`
	}
	const fields = `{"storage": "80 GB", "accounts": 100, "force": false} with storage, accounts or both`
	if !h.apiDecodeBody(w, r, &body, fields) {
		return
	}
	if body.Storage == nil && body.Accounts == nil {
		h.apiFail(w, r, http.StatusBadRequest, "nothing_to_change", "", "nothing to change: give storage, accounts or both, as "+fields)
		return
	}
	want, resize := s.Limits, tenants.Resize{Force: body.Force}
	if body.Storage != nil {
		b, err := quota.ParseSize(*body.Storage)
		if err != nil {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_size", "storage",
				"storage "+strconv.Quote(*body.Storage)+" is not a size; write "+sizeForms)
			return
		}
		if err := (quota.Limits{StorageBytes: b, Accounts: 1}).Validate(); err != nil {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_size", "storage", err.Error()+"; got "+quota.FormatSize(b))
			return
		}
		want.StorageBytes, resize.StorageBytes = b, b
	}
	if body.Accounts != nil {
		if err := (quota.Limits{StorageBytes: 1, Accounts: *body.Accounts}).Validate(); err != nil {
			h.apiFail(w, r, http.StatusBadRequest, "invalid_accounts", "accounts", err.Error()+"; got "+strconv.Itoa(*body.Accounts))
			return
		}
		want.Accounts, resize.Accounts = *body.Accounts, *body.Accounts
	}
	if want == s.Limits {
		h.apiFail(w, r, http.StatusBadRequest, "nothing_to_change", "",
			"nothing to change: space "+s.Slug+" already has "+quota.FormatSize(want.StorageBytes)+" and "+strconv.Itoa(want.Accounts)+" accounts")
		return
	}
	_, err := h.decisions.Resize(r.Context(), s.ID, resize, apiActor(r.Context()))
	h.apiSpaceDecided(w, r, s, "resized", err)
}
