"""Home: memories by state, apps and categories, a chart of what was added week by week and by which app, and
what the apps did lately."""
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

from django.shortcuts import render
from django.utils import timezone

from apps_registry.selectors import apps_with_counts
from memories.selectors import category_counts_in_use, memory_state_counts
from openmemory.dashboard.pages import page
from stats.selectors import memories_added_by_day, recent_activity

WEEKS = 12
CHART_APPS = 5  # apps the chart tells apart; the others are one "other apps" colour
PALETTE = ["#264b5d", "#4f8a8b", "#e09f3e", "#9e2a2b", "#6a994e", "#8d99ae"]
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 640, 160, 6


@page
def home(request):
    user = request.user
    counts = memory_state_counts(user=user)
    start = _week_start(timezone.localdate()) - timedelta(weeks=WEEKS - 1)
    return render(request, "dashboard/home.html", {
        "states": [(state, counts.get(state, 0)) for state in ("active", "paused", "archived")],
        "apps": apps_with_counts(user=user).order_by("-total_memories_created", "name")[:8],
        "categories": category_counts_in_use(user=user)[:12],
        "chart": weekly_chart(memories_added_by_day(user=user, since=_midnight(start)), start=start),
        "activity": recent_activity(user=user)})


def _midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _week_start(day):
    return day - timedelta(days=day.weekday())


def weekly_chart(rows, *, start) -> dict:
    """Stacked bars, one a week from `start`, one colour an app: the SVG's geometry, worked out here so that the
    template only draws it (no script, nothing loaded)."""
    weeks = [defaultdict(int) for _ in range(WEEKS)]
    totals = Counter()
    for day, app_name, n in rows:
        index = (day - start).days // 7
        if 0 <= index < WEEKS:
            weeks[index][app_name] += n
            totals[app_name] += n
    named = [name for name, _ in totals.most_common(CHART_APPS)]
    colours = {name: PALETTE[i] for i, name in enumerate(named)}
    highest = max((sum(week.values()) for week in weeks), default=0) or 1
    width = CHART_WIDTH / WEEKS
    bars = []
    for index, week in enumerate(weeks):
        y, segments = CHART_HEIGHT, []
        for name in [*named, None]:
            n = week.get(name, 0) if name else sum(v for k, v in week.items() if k not in colours)
            if n:
                height = n / highest * (CHART_HEIGHT - 20)  # room above the tallest bar for its figure
                y -= height
                segments.append({"y": round(y, 1), "height": round(height, 1), "n": n,
                                 "app": name or "other apps", "colour": colours.get(name, PALETTE[-1])})
        bars.append({"x": round(index * width + BAR_GAP / 2, 1), "width": round(width - BAR_GAP, 1),
                     "label": (start + timedelta(weeks=index)).strftime("%b %d"), "total": sum(week.values()),
                     "segments": segments, "centre": round(index * width + width / 2, 1), "top": round(y - 4, 1)})
    legend = [{"app": name, "colour": colours[name]} for name in named]
    if len(totals) > len(named):
        legend.append({"app": "other apps", "colour": PALETTE[-1]})
    return {"bars": bars, "legend": legend, "total": sum(totals.values()), "highest": highest,
            "width": CHART_WIDTH, "height": CHART_HEIGHT}
