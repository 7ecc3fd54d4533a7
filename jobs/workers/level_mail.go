package workers

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/assospaces/spaces/jobs"
	"github.com/assospaces/spaces/provisioner"
	"github.com/assospaces/spaces/quota"
)

// levelMail enqueues the mail for a storage level change: a warning when 80 % or 90 % is
// reached, a notice when the space is full, and one when a full space can grow again. Going
// down between warning levels sends nothing.
func levelMail(prov *provisioner.Provisioner, publicURL string) provisioner.LevelFunc {
	return func(ctx context.Context, tx pgx.Tx, c provisioner.LevelChange) error {
		return sendLevelMail(ctx, tx, prov, publicURL, c)
	}
}

func sendLevelMail(ctx context.Context, tx pgx.Tx, prov *provisioner.Provisioner, publicURL string, c provisioner.LevelChange) error {
	var template string
	switch up, _ := quota.Crossing(c.From, c.To); {
	case up && c.To == quota.LevelFull:
		template = "storage_full"
	case up:
		template = "storage_warning"
	case c.From == quota.LevelFull:
		template = "storage_available"
	default:
		return nil
	}
	s := c.Space
	fr := s.Locale == "fr"
	threshold := map[quota.Level]float64{quota.LevelWarn80: 80, quota.LevelWarn90: 90, quota.LevelFull: 100}[c.To]
	args := jobs.SendMailArgs{To: s.ContactEmail, Locale: s.Locale, Template: template, Data: map[string]string{
		"AssociationName": s.AssociationName, "Address": "https://" + prov.Domain(s.Slug),
		"Used": localSize(c.Used, fr), "Limit": localSize(s.Limits.StorageBytes, fr),
		"Percent":   localPercent(quota.Percent(c.Used, s.Limits.StorageBytes), fr),
		"Threshold": localPercent(threshold, fr), "PublicURL": publicURL,
	}}
	_, err := river.ClientFromContext[pgx.Tx](ctx).InsertTx(ctx, tx, args, nil)
	return err
}

// localSize writes a size as its reader expects it: "32.5 GB" in English, "32,5 Go" in French.
func localSize(b int64, fr bool) string {
	s := quota.FormatSize(b)
	if !fr {
		return s
	}
	num, unit, _ := strings.Cut(s, " ")
	unit = map[string]string{"B": "o", "KB": "Ko", "MB": "Mo", "GB": "Go", "TB": "To"}[unit]
	return strings.ReplaceAll(num, ".", ",") + "\u00a0" + unit
}

// localPercent writes a percentage: "85%" in English, "85 %" in French (with a no-break space).
func localPercent(p float64, fr bool) string {
	n := strconv.FormatFloat(float64(int64(p)), 'f', -1, 64)
	if fr {
		return n + "\u00a0%"
	}
	return n + "%"
}
