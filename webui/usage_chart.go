package webui

import (
	"strconv"
	"strings"
	"time"

	"github.com/assospaces/spaces/tenants"
)

// The chart's drawing area, in the SVG's own units (it scales with the page's width).
const (
	chartW      = 600
	chartH      = 246
	chartLeft   = 4.0
	chartRight  = 596.0
	chartTop    = 28.0
	chartBottom = 214.0
	chartLabelY = 238.0
)

// usageChart is a space's storage used over its history, drawn server-side as inline SVG (no
// script, nothing the Content-Security-Policy has to allow), with its text alternatives: a title
// and a description read by screen readers, and the figures day by day in a table.
type usageChart struct {
	W, H        int
	Bottom      string // the axis
	LabelY      string // the days under it
	Area, Line  string // the SVG path of the area under the curve and the curve's points
	LastX       string // the latest point, marked
	LastY       string
	Lines       []chartLine // the limit and the 80 % and 90 % thresholds
	Start, End  string      // the first and last day, under the axis
	StartX      string
	EndX        string
	Title, Desc string
	Rows        []chartRow // newest first
	Table       struct{ Summary, Day, Used, Accounts, Active string }
}

// chartLine is a horizontal threshold across the chart with its label.
type chartLine struct {
	Y, LabelX, LabelY string
	Anchor            string // start or end: the label's side
	Label             string
	Class             string // limit, t80, t90
}

// chartRow is one day of the chart's table.
type chartRow struct {
	Day, Used, Percent string
	Accounts, Active   int
}

// newUsageChart draws points against limit; nil when there is no point yet.
func (p page) newUsageChart(limit int64, points []tenants.UsagePoint) *usageChart {
	if len(points) == 0 {
		return nil
	}
	start, end := points[0].At, points[len(points)-1].At
	if !end.After(start) {
		start = end.Add(-24 * time.Hour)
	}
	top, highest := limit, points[0]
	for _, pt := range points {
		top = max(top, pt.UsedBytes)
		if pt.UsedBytes > highest.UsedBytes {
			highest = pt
		}
	}
	top = max(top, 1)
	x := func(t time.Time) float64 {
		return chartLeft + float64(t.Sub(start))/float64(end.Sub(start))*(chartRight-chartLeft)
	}
	y := func(b int64) float64 { return chartBottom - float64(b)/float64(top)*(chartBottom-chartTop) }

	c := &usageChart{W: chartW, H: chartH, Bottom: coord(chartBottom), LabelY: coord(chartLabelY), Start: p.shortDate(points[0].At), End: p.shortDate(points[len(points)-1].At),
		StartX: coord(chartLeft), EndX: coord(chartRight)}
	var line, area strings.Builder
	area.WriteString("M" + coord(x(points[0].At)) + "," + coord(chartBottom))
	for i, pt := range points {
		if i > 0 {
			line.WriteByte(' ')
		}
		xy := coord(x(pt.At)) + "," + coord(y(pt.UsedBytes))
		line.WriteString(xy)
		area.WriteString(" L" + xy)
	}
	last := points[len(points)-1]
	area.WriteString(" L" + coord(x(last.At)) + "," + coord(chartBottom) + " Z")
	c.Line, c.Area = line.String(), area.String()
	c.LastX, c.LastY = coord(x(last.At)), coord(y(last.UsedBytes))

	// The thresholds are named on the left, where the history is oldest and usually lowest; the
	// limit on the right, above the latest point.
	for _, t := range []struct {
		class string
		pct   int64
		label string
	}{{"t80", 80, p.T("usage.percent", "n", 80)}, {"t90", 90, p.T("usage.percent", "n", 90)},
		{"limit", 100, p.T("usage.chart.limit", "limit", p.Size(limit))}} {
		ly := y(limit * t.pct / 100)
		l := chartLine{Y: coord(ly), LabelX: coord(chartLeft + 4), LabelY: coord(ly - 5), Anchor: "start", Label: t.label, Class: t.class}
		if t.class == "limit" {
			l.LabelX, l.Anchor = coord(chartRight-4), "end"
		}
		c.Lines = append(c.Lines, l)
	}

	c.Title = p.T("usage.chart.title", "from", p.Date(points[0].At), "to", p.Date(last.At))
	c.Desc = p.T("usage.chart.desc", "first", p.Size(points[0].UsedBytes), "last", p.Size(last.UsedBytes),
		"max", p.Size(highest.UsedBytes), "maxday", p.Date(highest.At), "limit", p.Size(limit))
	c.Table.Summary, c.Table.Day, c.Table.Used = p.T("usage.chart.table"), p.T("usage.chart.day"), p.T("usage.chart.used")
	c.Table.Accounts, c.Table.Active = p.T("usage.chart.accounts"), p.T("usage.chart.active")
	for i := len(points) - 1; i >= 0; i-- {
		pt := points[i]
		c.Rows = append(c.Rows, chartRow{Day: p.Date(pt.At), Used: p.Size(pt.UsedBytes),
			Percent: p.percent(pt.UsedBytes, limit), Accounts: pt.Accounts, Active: pt.ActiveUsers})
	}
	return c
}

// coord writes an SVG coordinate with one decimal.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// shortDate writes a day without its year, for the chart's axis: 3 mars, March 3.
func (p page) shortDate(t time.Time) string {
	t = t.In(p.loc)
	return p.T("date.short", "day", t.Day(), "month", p.T("month."+strconv.Itoa(int(t.Month()))))
}
