# The operator's image: a static binary on distroless, running as a non-root user.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gitops-reverser ./cmd/gitops-reverser

FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/gitops-reverser /gitops-reverser
USER 65532:65532
ENTRYPOINT ["/gitops-reverser"]
