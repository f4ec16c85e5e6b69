from django.db import migrations

# A copy, not an import: a migration must not change when the code's taxonomy does.
CATEGORIES = [
    ("personal", "Personal life, home, routines, habits and life events."),
    ("relationships", "Family, partner, children, friends and the people in the user's life."),
    ("preferences", "Likes, dislikes, tastes, diet and how the user wants things done."),
    ("health", "Health, illness, allergies, medication, fitness and sleep."),
    ("travel", "Trips, flights, hotels, holidays and destinations."),
    ("work", "Job, employer, career, meetings and professional tasks."),
    ("education", "School, university, courses, studying and exams."),
    ("projects", "Ongoing projects and their progress."),
    ("ai, ml & technology", "Software, programming, AI, machine learning and gadgets."),
    ("technical support", "Bugs, errors, crashes and troubleshooting."),
    ("finance", "Money, salary, bills, banking, investments and taxes."),
    ("shopping", "Purchases, orders, products and deliveries."),
    ("legal", "Contracts, laws, lawyers and legal matters."),
    ("entertainment", "Films, series, music, books, games and hobbies."),
    ("messages", "Messages, emails and notes to or from someone."),
    ("customer support", "Dealing with customer service, complaints and refunds."),
    ("product feedback", "Opinions and feedback about products and services."),
    ("news", "Current events, news and politics."),
    ("organization", "Planning, scheduling, calendars and to-do lists."),
    ("goals", "Goals, ambitions and what the user wants to achieve."),
]


def seed(apps, schema_editor):
    Category = apps.get_model("memories", "Category")
    for name, description in CATEGORIES:
        Category.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("memories", "0002_memory_categorized_at")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
