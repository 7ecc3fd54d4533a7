package tenants

// QuotaLevel selects spaces by how close their last measured usage is to their limits, for
// SpaceFilter.QuotaLevels. A space never measured is at no level.
type QuotaLevel string

// The quota levels a list can be filtered by. Near includes over.
const (
	// QuotaNear is a space whose storage reached a warning level (80 %, 90 % or full, as its
	// association was warned; see quota.StorageLevel) or whose enabled accounts reach 80 % of its
	// accounts limit.
	QuotaNear QuotaLevel = "near"
	// QuotaOver is a space whose storage is full (uploads are refused) or that has more enabled
	// accounts than its limit (after a resize below them with force).
	QuotaOver QuotaLevel = "over"
)

// QuotaLevels lists the levels, in increasing order.
var QuotaLevels = []QuotaLevel{QuotaNear, QuotaOver}

// Valid tells whether l is one of the levels.
func (l QuotaLevel) Valid() bool { return l == QuotaNear || l == QuotaOver }

// quotaLevelCondition is ListSpaces' condition on SpaceFilter.QuotaLevels, passed as a text
// array in $4: no level selects every space; several select the spaces at any of them. The
// storage levels are the ones the usage pass stored (quota.Level's names).
const quotaLevelCondition = `(cardinality($4::text[]) = 0 OR EXISTS (
	SELECT 1 FROM space_usage u WHERE u.space_id = spaces.id AND (
		'near' = ANY($4) AND (u.storage_level IN ('80%', '90%', 'full') OR u.accounts_enabled::bigint * 100 >= spaces.account_limit::bigint * 80)
		OR 'over' = ANY($4) AND (u.storage_level = 'full' OR u.accounts_enabled > spaces.account_limit))))`

func quotaLevelNames(levels []QuotaLevel) []string {
	out := make([]string, len(levels))
	for i, l := range levels {
		out[i] = string(l)
	}
	return out
}
