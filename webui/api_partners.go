package webui

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/assospaces/spaces/tenants"
)

// apiPartnerList is GET /api/v1/partners: every partner host, open and full, by name.
func (h *handler) apiPartnerList(w http.ResponseWriter, r *http.Request) {
	ps, err := tenants.ListPartners(r.Context(), h.Pool, false)
	if err != nil {
		h.apiInternal(w, r, err)
		return
	}
	if ps == nil {
		ps = []tenants.Partner{}
	}
	h.apiJSON(w, r, http.StatusOK, map[string]any{"partners": ps})
}

// apiPartnerBody is what POST /api/v1/partners and /api/v1/partners/{id} take.
const apiPartnerBody = `{"name": "…", "url": "https://…", "offer_fr": "…", "offer_en": "…", "open": true|false, "forward_url": "https://…", "forward_token": "…"}`

type apiPartnerFields struct {
	Name    *string `json:"name"`
	URL     *string `json:"url"`
	OfferFR *string `json:"offer_fr"`
	OfferEN *string `json:"offer_en"`
	Open    *bool   `json:"open"`
	// ForwardURL and ForwardToken set forwarding (tenants.SetPartnerForwarding): the partner's
	// API address and the token it gave, which is write-only (sealed, never answered back).
	// forward_url "" turns forwarding off.
	ForwardURL   *string `json:"forward_url"`
	ForwardToken *string `json:"forward_token"`
}

// forwarding is the forwarding change the body asks for.
func (b apiPartnerFields) forwarding() (tenants.ForwardingChange, bool) {
	return tenants.ForwardingChange{URL: b.ForwardURL, Token: b.ForwardToken}, b.ForwardURL != nil || b.ForwardToken != nil
}

// apiPartnerAdd is POST /api/v1/partners: a new partner host (open unless "open": false),
// audited under the token; 201 with the partner. offer_fr or offer_en is required; one alone is
// shown in both languages.
func (h *handler) apiPartnerAdd(w http.ResponseWriter, r *http.Request) {
	var body apiPartnerFields
	if !h.apiDecodeBody(w, r, &body, apiPartnerBody) {
		return
	}
	p := tenants.Partner{Open: true}
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&p.Name, body.Name}, {&p.URL, body.URL}, {&p.OfferFR, body.OfferFR}, {&p.OfferEN, body.OfferEN}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if body.Open != nil {
		p.Open = *body.Open
	}
	fwd, withForwarding := body.forwarding()
	if withForwarding {
		// Checked before the partner is added, so that a refused token adds nothing.
		checked, err := tenants.CheckForwarding(fwd)
		if err == nil && checked.URL != nil && *checked.URL != "" && checked.Token == nil {
			err = &tenants.InvalidField{Field: "forward_token", Code: "required"}
		}
		if err == nil && checked.Token != nil && (checked.URL == nil || *checked.URL == "") {
			err = &tenants.InvalidField{Field: "forward_url", Code: "required"}
		}
		if err != nil {
			h.apiPartnerAnswer(w, r, http.StatusCreated, tenants.Partner{}, err)
			return
		}
	}
	added, err := tenants.AddPartner(r.Context(), h.Pool, p, apiActor(r.Context()))
	if err == nil && withForwarding {
		added, err = tenants.SetPartnerForwarding(r.Context(), h.Pool, h.box, added.ID, fwd, apiActor(r.Context()))
	}
	h.apiPartnerAnswer(w, r, http.StatusCreated, added, err)
}

// apiPartnerUpdate is POST /api/v1/partners/{id}: the fields given change, audited under the
// token; it answers the partner.
func (h *handler) apiPartnerUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiPartnerID(w, r)
	if !ok {
		return
	}
	var body apiPartnerFields
	if !h.apiDecodeBody(w, r, &body, apiPartnerBody+", each field optional") {
		return
	}
	if body == (apiPartnerFields{}) {
		h.apiFail(w, r, http.StatusBadRequest, "nothing_to_change", "", "nothing to change; the body is "+apiPartnerBody+", each field optional")
		return
	}
	var p tenants.Partner
	var err error
	fwd, withForwarding := body.forwarding()
	if withForwarding {
		// First, so that a refused token changes nothing else.
		p, err = tenants.SetPartnerForwarding(r.Context(), h.Pool, h.box, id, fwd, apiActor(r.Context()))
	}
	if err == nil && (body.Name != nil || body.URL != nil || body.OfferFR != nil || body.OfferEN != nil || body.Open != nil) {
		p, err = tenants.UpdatePartner(r.Context(), h.Pool, id, tenants.PartnerChange{Name: body.Name, URL: body.URL,
			OfferFR: body.OfferFR, OfferEN: body.OfferEN, Open: body.Open}, apiActor(r.Context()))
	}
	h.apiPartnerAnswer(w, r, http.StatusOK, p, err)
}

// apiPartnerRemove is DELETE /api/v1/partners/{id}: the partner host is removed, audited under
// the token; it answers the partner as it was.
func (h *handler) apiPartnerRemove(w http.ResponseWriter, r *http.Request) {
	id, ok := h.apiPartnerID(w, r)
	if !ok {
		return
	}
	p, err := tenants.RemovePartner(r.Context(), h.Pool, id, apiActor(r.Context()))
	h.apiPartnerAnswer(w, r, http.StatusOK, p, err)
}

// apiPartnerID reads the partner's id in the path; false when the answer is written.
func (h *handler) apiPartnerID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.apiFail(w, r, http.StatusNotFound, "not_found", "id", "no partner host "+strconv.Quote(r.PathValue("id"))+"; ids are whole numbers (spaces partner list)")
		return 0, false
	}
	return id, true
}

// apiPartnerAnswer writes a partner, or the error of a change to one.
func (h *handler) apiPartnerAnswer(w http.ResponseWriter, r *http.Request, status int, p tenants.Partner, err error) {
	var inv *tenants.InvalidField
	switch {
	case errors.As(err, &inv):
		msg := inv.Error()
		if inv.Field == "offer_fr" && inv.Code == "required" {
			msg = "offer_fr or offer_en is required: what the partner offers, shown to applicants"
		}
		h.apiFail(w, r, http.StatusBadRequest, "invalid_value", inv.Field, msg)
	case errors.Is(err, tenants.ErrPartnerNameTaken):
		h.apiFail(w, r, http.StatusConflict, "name_taken", "name", "a partner host with this name exists already")
	case errors.Is(err, tenants.ErrNotFound):
		h.apiFail(w, r, http.StatusNotFound, "not_found", "id", "no partner host "+r.PathValue("id")+" (spaces partner list)")
	case err != nil:
		h.apiInternal(w, r, err)
	default:
		h.apiJSON(w, r, status, p)
	}
}
