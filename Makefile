# Merchant Alliance: `make run` (the demo on SQLite) and `make test` (the whole suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint bench-grid bench-ledger bench-grab bench-pay bench-offers messages check-deploy clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.base: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/base.txt
	touch $@

$(VENV)/.dev: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements/dev.txt
	touch $@ $(VENV)/.base

## The whole product on the embedded SQLite database, with demo data; prints one login per role.
run: $(VENV)/.base
	DJANGO_SETTINGS_MODULE=alliance.settings.local $(BIN)/python manage.py migrate --noinput
	HOST=$(HOST) PORT=$(PORT) DJANGO_SETTINGS_MODULE=alliance.settings.local $(BIN)/python manage.py demo_data
	HOST=$(HOST) PORT=$(PORT) DJANGO_SETTINGS_MODULE=alliance.settings.local $(BIN)/python manage.py runserver $(HOST):$(PORT)

## The whole test suite. DATABASE_URL chooses the database (without it: SQLite).
test: $(VENV)/.dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

bench-ledger: $(VENV)/.dev
	$(BIN)/python bench/ledger_bench.py

bench-grid: $(VENV)/.dev
	$(BIN)/python bench/grid_bench.py

bench-grab: $(VENV)/.dev
	$(BIN)/python bench/grab_bench.py

bench-pay: $(VENV)/.dev
	$(BIN)/python bench/pay_bench.py

bench-offers: $(VENV)/.dev
	$(BIN)/python bench/offers_bench.py

## Regenerate translations (needs GNU gettext); the compiled .mo files are committed.
messages: $(VENV)/.base
	$(BIN)/python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=bench
	$(BIN)/python manage.py compilemessages --ignore=.venv

check-deploy: $(VENV)/.base
	DJANGO_SECRET_KEY=check-deploy-$$(date +%s)-a-long-random-enough-secret-value-for-the-check \
	DJANGO_ALLOWED_HOSTS=alliance.example.com DATABASE_URL=postgres://postgres@127.0.0.1:5432/alliance \
	DJANGO_CELERY_BROKER_URL=redis://127.0.0.1:6379/0 DJANGO_SMS_BACKEND=accounts.sms.ConsoleBackend \
	DJANGO_FIELD_ENCRYPTION_KEY=check-deploy-field-key \
	DJANGO_PUBLIC_BASE_URL=https://alliance.example.com \
	DJANGO_PAYMENT_GATEWAYS='{"wechat": {"class": "payments.gateways.wechatpay_v3.WechatPayV3Gateway", "base_url": "https://api.mch.weixin.qq.com", "private_key_path": "/etc/alliance/wechat.pem"}}' \
	$(BIN)/python manage.py check --deploy --fail-level WARNING --settings=alliance.settings.production

clean:
	rm -rf $(VENV) var
