from django.urls import re_path

from stats import views

urlpatterns = [re_path(r"^stats/?$", views.Stats.as_view(), name="stats")]
