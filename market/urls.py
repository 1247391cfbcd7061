"""The market's pages. The overview is the site's home page (`home`, not namespaced: the other
apps redirect there); everything else is in the `market` namespace."""

from django.urls import include, path

from market import views

market_patterns = [
    path("market/clock/", views.clock_json, name="clock"),
    path("market/<str:symbol>/", views.instrument_page, name="instrument"),
    path("market/<str:symbol>/order/", views.order_ticket, name="order"),
    path("market/<str:symbol>/holdings/", views.holdings_fragment, name="holdings"),
    path("orders/", views.my_orders, name="orders"),
    path("orders/<int:order_id>/cancel/", views.order_cancel_view, name="order_cancel"),
    path("portfolio/", views.portfolio, name="portfolio"),
    path("ledger/", views.ledger, name="ledger"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("vehicles/<int:vehicle_id>/start-trading/", views.listing_page, name="listing"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("", include((market_patterns, "market"))),
]
