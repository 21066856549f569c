from cookiegate import create_app

app = create_app()
