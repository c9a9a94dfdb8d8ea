# AgentSpace web app. Build: docker build -t agentspace .
# Run: docker run -e App__PublicBaseUrl=https://agentspace.example.com -e ConnectionStrings__Default=... agentspace
# App__PublicBaseUrl is required (empty here on purpose: the app refuses to start without it rather than
# mail sign-in links on a guessed address); emailed links are built only from it, and only its host is served.
# Vault__MasterKey (base64, 32 bytes: openssl rand -base64 32) or Vault__MasterKeyFile is required too: the
# credentials vault's master key, kept outside the database and the image.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY Directory.Build.props Directory.Packages.props .editorconfig appsettings.json ./
COPY App/App.csproj App/
RUN dotnet restore App/App.csproj
COPY App/ App/
COPY migrations/ migrations/
COPY wwwroot/ wwwroot/
RUN dotnet publish App/App.csproj -c Release -o /out --no-restore

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
# Decision records are exported as PDF with SkiaSharp: fontconfig and a font family to draw with.
RUN apt-get update && apt-get install -y --no-install-recommends libfontconfig1 fonts-liberation && rm -rf /var/lib/apt/lists/*
COPY --from=build /out .
ENV ASPNETCORE_URLS=http://+:8080 \
    DOTNET_CLI_TELEMETRY_OPTOUT=1 \
    DataProtection__KeysDirectory=/app/keys \
    App__PublicBaseUrl=""
RUN mkdir -p /app/keys && chown app /app/keys
USER app
EXPOSE 8080
# Applies migrations (platform, then every tenant), then serves.
ENTRYPOINT ["sh", "-c", "dotnet App.dll migrate && exec dotnet App.dll"]
