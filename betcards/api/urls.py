"""Routes under /bc/: the Bet Card API (its schema is part of /be/schema)."""

from __future__ import annotations

from django.urls import path

from betcards.api.views import CardDetailApi, CardListApi, CardPickApi, FinanceDetailsApi

urlpatterns = [
    path("jackpots", CardListApi.as_view(), name="betcard-list"),
    path("jackpots/<str:code>", CardDetailApi.as_view(), name="betcard-detail"),
    path("jackpots/<str:code>/pick", CardPickApi.as_view(), name="betcard-pick"),
    path("calculator/finance-details", FinanceDetailsApi.as_view(), name="finance-details"),
]
