"""OpenMemory's 20 categories for the offline categorizer: a description, and example memories that stand for
each category when a memory is compared by meaning (one long description embeds too vaguely to match)."""

DEFAULT_CATEGORIES = {
    "personal": ("Personal life, home, routines, habits and life events.", [
        "I live in an apartment in Lisbon", "I wake up at 6 every morning", "My birthday is in March",
        "We are moving house next month"]),
    "relationships": ("Family, partner, children, friends and the people in the user's life.", [
        "My son plays football on Saturdays", "My kids are 4 and 7 years old", "My parents are visiting us", "My wife's name is Ana", "I need to call my mom on Sunday",
        "My best friend is getting married", "My son is allergic to milk"]),
    "preferences": ("Likes, dislikes, tastes, diet and how the user wants things done.", [
        "I don't eat meat", "I prefer dark mode", "I love spicy food", "I don't like long meetings",
        "My favourite colour is green"]),
    "health": ("Health, illness, allergies, medication, fitness and sleep.", [
        "I'm allergic to shellfish", "I have a doctor's appointment on Friday", "I take medication for blood pressure",
        "I run 5 km three times a week", "I have been sleeping badly"]),
    "travel": ("Trips, flights, hotels, holidays and destinations.", [
        "Booked a flight to Paris", "Our hotel in Tokyo is near the station", "We are going on holiday to Greece",
        "My passport expires next year", "Flying to Berlin for a conference"]),
    "work": ("Job, employer, career, meetings and professional tasks.", [
        "I work as a product manager", "My manager wants the report by Friday", "I have a job interview tomorrow",
        "Our team meeting is every Monday"]),
    "education": ("School, university, courses, studying and exams.", [
        "I'm studying for my statistics exam", "I enrolled in an online course", "I have a degree in physics"]),
    "projects": ("Ongoing projects and their progress.", [
        "I'm building a garden shed this summer", "The website redesign project is half done",
        "Working on a side project to track expenses"]),
    "ai, ml & technology": ("Software, programming, AI, machine learning and gadgets.", [
        "I program mostly in Python", "I'm training a machine learning model", "I use Linux and Docker at work",
        "I bought a new laptop with a fast GPU"]),
    "technical support": ("Bugs, errors, crashes and troubleshooting.", [
        "My script crashes with an error", "The app throws an exception on startup", "I need to fix a bug in my code",
        "My printer is not connecting to wifi", "My laptop keeps freezing after the update"]),
    "finance": ("Money, salary, bills, banking, investments and taxes.", [
        "My salary went up", "I pay rent on the first of the month", "I invest in index funds",
        "I need to file my taxes"]),
    "shopping": ("Purchases, orders, products and deliveries.", [
        "I ordered new running shoes online", "I want to buy a coffee machine", "My package arrives tomorrow"]),
    "legal": ("Contracts, laws, lawyers and legal matters.", [
        "I signed the rental contract", "I need a lawyer for the dispute", "My work visa needs renewing"]),
    "entertainment": ("Films, series, music, books, games and hobbies.", [
        "I watched a great movie last night", "My favourite band is Radiohead", "I'm reading a fantasy novel",
        "I play video games on weekends"]),
    "messages": ("Messages, emails and notes to or from someone.", [
        "Remind me to email John about the invoice", "Send a message to the team", "Reply to Sarah's text"]),
    "customer support": ("Dealing with customer service, complaints and refunds.", [
        "I complained to the airline about lost luggage", "I asked the shop for a refund",
        "Opened a support ticket with my internet provider"]),
    "product feedback": ("Opinions and feedback about products and services.", [
        "The new phone's battery life is disappointing", "I think the app's search feature is great",
        "This editor needs a better dark theme"]),
    "news": ("Current events, news and politics.", [
        "The election results came out today", "I read about the new climate agreement", "Stock markets fell sharply"]),
    "organization": ("Planning, scheduling, calendars and to-do lists.", [
        "Put the dentist appointment in my calendar", "My to-do list for this week", "Plan the schedule for Saturday"]),
    "goals": ("Goals, ambitions and what the user wants to achieve.", [
        "I want to run a marathon next year", "My goal is to learn Spanish", "I plan to save for a house"]),
}
