-- wrk script: POST /api/v1/certificates with a personbevis, authenticated with the API key in the
-- INTYG_API_KEY environment variable. Each request creates a new certificate.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("INTYG_API_KEY")
wrk.body = [[{"type":"personbevis","claims":{"given_name":"Åsa","family_name":"Öberg","personal_identity_number":"196408233234","birthdate":"1964-08-23","address":{"street_address":"Storgatan 1","postal_code":"111 22","locality":"Stockholm"},"county":{"code":"01","name":"Stockholms län"},"municipality":{"code":"0180","name":"Stockholm"},"extract_date":"2026-12-01"}}]]
