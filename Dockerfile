FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -o /out/ ./cmd/...

FROM debian:bookworm-slim
COPY --from=build /out/streamsync /out/partnersim /usr/local/bin/
ENTRYPOINT ["/usr/local/bin/streamsync"]
