"""The training recipe's exclusion list: brands of the public benchmarks we measure on are never
training identities, under any spelling (issue 16). The list is data (excluded_brands.toml)."""

from __future__ import annotations

import pytest

from screener.train.exclusion import load_exclusions

EVALUATION_BRANDS = [
    "Adidas", "Apple", "BMW", "Citroen", "Coca-Cola", "DHL", "FedEx", "Ferrari", "Ford", "Google",
    "Heineken", "HP", "Intel", "McDonald's", "Mini", "NBC", "Nike", "Pepsi", "Porsche", "Puma",
    "Red Bull", "Sprite", "Starbucks", "Texaco", "Unicef", "Vodafone", "Yahoo", "Lexus",
    "Golden State Warriors", "Under Armour", "Aldi", "Wells Fargo", "Duff", "Champion", "Batman", "Robin",
]


@pytest.mark.parametrize("name", EVALUATION_BRANDS)
def test_every_evaluation_brand_is_excluded(name):
    assert load_exclusions().excludes(name)


@pytest.mark.parametrize("spelling", ["COCA COLA", "cocacola", "Citroën", "McDonalds", "RedBull",
                                      "under-armour", "Google Chrome", "yahoo!"])
def test_other_spellings_and_products_are_excluded(spelling):
    assert load_exclusions().excludes(spelling)


@pytest.mark.parametrize("name", ["Mozilla", "Spotify", "Debian", "Zalando"])
def test_other_brands_stay_training_identities(name):
    assert not load_exclusions().excludes(name)
