from django.urls import path

from market.api import views
from market.leaderboard_api import LeaderboardApi
from market.notifications_api import NotificationListApi

urlpatterns = [
    path("account/", views.AccountApi.as_view(), name="account"),
    path("account/ledger/", views.LedgerApi.as_view(), name="account-ledger"),
    path("portfolio/", views.PortfolioApi.as_view(), name="portfolio"),
    path(
        "vehicles/<int:vehicle_id>/list/",
        views.VehicleListingApi.as_view(),
        name="vehicle-list-for-trading",
    ),
    path("instruments/", views.InstrumentListApi.as_view(), name="instrument-list"),
    path(
        "instruments/<str:symbol>/", views.InstrumentDetailApi.as_view(), name="instrument-detail"
    ),
    path(
        "instruments/<str:symbol>/book/", views.InstrumentBookApi.as_view(), name="instrument-book"
    ),
    path(
        "instruments/<str:symbol>/trades/",
        views.InstrumentTradesApi.as_view(),
        name="instrument-trades",
    ),
    path(
        "instruments/<str:symbol>/bars/", views.InstrumentBarsApi.as_view(), name="instrument-bars"
    ),
    path(
        "instruments/<str:symbol>/auctions/",
        views.InstrumentAuctionsApi.as_view(),
        name="instrument-auctions",
    ),
    path("orders/", views.OrderListApi.as_view(), name="order-list"),
    path("orders/<int:order_id>/", views.OrderDetailApi.as_view(), name="order-detail"),
    path("notifications/", NotificationListApi.as_view(), name="notification-list"),
    path("leaderboard/", LeaderboardApi.as_view(), name="leaderboard"),
]
